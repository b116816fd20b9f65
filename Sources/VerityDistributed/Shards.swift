// How a data-parallel job splits a batch: contiguous runs of whole items (a prompt's group of samples), balanced by
// cost (expected or actual tokens), the same on every rank because every rank computes it from the same numbers.

/// Splitting work among ranks.
public enum Shards {
    /// Splits items 0 ..< costs.count into `parts` contiguous ranges (some may be empty) whose summed costs are as
    /// even as cuts between whole items allow: cut k falls at the item boundary nearest to k/parts of the total.
    public static func contiguous(costs: [Double], parts: Int) -> [Range<Int>] {
        precondition(parts >= 1, "parts must be at least 1")
        let n = costs.count
        var prefix = [0.0]
        prefix.reserveCapacity(n + 1)
        for c in costs { prefix.append(prefix[prefix.count - 1] + max(0, c)) }
        let total = prefix[n]
        var cuts = [0]
        for k in 1..<parts {
            let target = total * Double(k) / Double(parts)
            // The first boundary at or past the target, or the one before it when that is nearer.
            var i = cuts[cuts.count - 1]
            while i < n && prefix[i] < target { i += 1 }
            if i > cuts[cuts.count - 1] && target - prefix[i - 1] < prefix[i] - target { i -= 1 }
            cuts.append(max(i, cuts[cuts.count - 1]))
        }
        cuts.append(n)
        return (0..<parts).map { cuts[$0]..<cuts[$0 + 1] }
    }
}
