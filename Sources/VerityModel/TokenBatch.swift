// TokenBatch: sequences of different lengths (a GRPO batch: prompts plus responses) as one
// left-padded [B, T] block for the training forward. Each row's pads come first; its real tokens sit
// at positions 0..<len (as transformers' position_ids = cumsum(mask) − 1), and its queries see only
// keys from its first real token on (`keyStart`), so a row's numbers do not depend on the others.
// `micro(batches:)` splits a batch into micro-batches that bound activation memory; gradients
// accumulate in the parameter store across their backwards. Packed rows (SFT) hold several
// sequences one after another: positions restart at each, and each query sees only keys of its own
// sequence (`segmentStart`), so a packed row computes what its sequences would alone. A packed
// sequence may continue an earlier one of its row (`prefixOf`: a group's shared prompt, computed
// once): its positions go on from the prefix's end and its queries also see the prefix's keys
// (`sharedPrefix`), so it computes what prefix + sequence would alone. It does not tokenize or
// choose targets.
import Foundation
import VerityTensor

/// Left-padded rows of token ids for one training forward.
public struct TokenBatch: Sendable, Equatable {
    /// The sequences as given, one per row.
    public let sequences: [[Int32]]
    /// The padded row length T (the longest sequence).
    public let length: Int
    /// Token ids [B·T], each row left-padded with `padID`.
    public let ids: [Int32]
    /// Positions [B·T]: 0 on pads, 0..<len on a row's tokens.
    public let positions: [Int]
    /// Pads per row: row b's keys start here.
    public let keyStart: [Int]
    /// The id written on pads.
    public let padID: Int32
    /// Packed rows: each row's sequence lengths in order (nil: one sequence a row).
    public let segments: [[Int]]?
    /// Packed rows: [B·T] the first key each query sees (the start of its sequence in the padded row); nil otherwise.
    public let segmentStart: [Int32]?
    /// Packed rows: per row, per sequence, the index of the earlier sequence of the row it continues (nil: none).
    public let prefixOf: [[Int?]]?
    /// Packed rows with continuing sequences: [B·T] the prefix keys each query sees besides its own sequence's.
    public let sharedPrefix: SharedPrefix?

    /// A batch of `sequences` (none empty) padded to the longest with `padID` (any id in the vocabulary).
    public init(sequences: [[Int32]], padID: Int32 = 0) throws {
        guard !sequences.isEmpty else { throw ModelError.badInput(detail: "a token batch needs at least one sequence") }
        if let i = sequences.firstIndex(where: { $0.isEmpty }) {
            throw ModelError.badInput(detail: "sequence \(i) of the batch is empty")
        }
        self.sequences = sequences
        self.padID = padID
        let t = sequences.map(\.count).max() ?? 0
        length = t
        var ids: [Int32] = [], pos: [Int] = [], starts: [Int] = []
        ids.reserveCapacity(sequences.count * t)
        for s in sequences {
            let pad = t - s.count
            starts.append(pad)
            ids.append(contentsOf: repeatElement(padID, count: pad))
            ids.append(contentsOf: s)
            pos.append(contentsOf: repeatElement(0, count: pad))
            pos.append(contentsOf: 0..<s.count)
        }
        self.ids = ids
        positions = pos
        keyStart = starts
        segments = nil
        segmentStart = nil
        prefixOf = nil
        sharedPrefix = nil
    }

    /// Packed rows: each row is several sequences (none empty) one after another, left-padded to the longest row.
    /// `prefixOf[row][i]`, when given and not nil, is the earlier sequence of the row that sequence i continues: the
    /// prefix's tokens are not repeated, i's positions go on from the prefix's length, and i's queries see the prefix.
    /// A prefix continues nothing itself.
    public init(packedRows rows: [[[Int32]]], prefixOf: [[Int?]]? = nil, padID: Int32 = 0) throws {
        guard !rows.isEmpty else { throw ModelError.badInput(detail: "a token batch needs at least one row") }
        if let i = rows.firstIndex(where: { $0.isEmpty || $0.contains(where: \.isEmpty) }) {
            throw ModelError.badInput(detail: "packed row \(i) is empty or holds an empty sequence")
        }
        if let prefixOf {
            guard prefixOf.map(\.count) == rows.map(\.count) else {
                throw ModelError.badInput(detail: "prefixOf has \(prefixOf.map(\.count)) entries for rows of \(rows.map(\.count))")
            }
            for (r, row) in prefixOf.enumerated() {
                for (i, p) in row.enumerated() {
                    guard let p else { continue }
                    guard p >= 0, p < i, row[p] == nil else {
                        throw ModelError.badInput(
                            detail: "packed row \(r): sequence \(i) continues \(p), which is not an earlier sequence that "
                                + "continues nothing")
                    }
                }
            }
        }
        let shares = prefixOf?.contains { $0.contains { $0 != nil } } ?? false
        sequences = rows.map { $0.flatMap { $0 } }
        self.padID = padID
        let t = sequences.map(\.count).max() ?? 0
        length = t
        var ids: [Int32] = [], pos: [Int] = [], starts: [Int] = [], seg: [Int32] = []
        var pStart: [Int32] = [], pEnd: [Int32] = []
        for (r, row) in rows.enumerated() {
            let pad = t - row.reduce(0) { $0 + $1.count }
            starts.append(pad)
            ids.append(contentsOf: repeatElement(padID, count: pad))
            pos.append(contentsOf: repeatElement(0, count: pad))
            seg.append(contentsOf: (0..<pad).map { Int32($0) })
            if shares {
                pStart.append(contentsOf: repeatElement(0, count: pad))
                pEnd.append(contentsOf: repeatElement(0, count: pad))
            }
            var at = pad, startOf: [Int] = []
            for (i, s) in row.enumerated() {
                startOf.append(at)
                ids.append(contentsOf: s)
                seg.append(contentsOf: repeatElement(Int32(at), count: s.count))
                if let p = prefixOf?[r][i] {
                    let first = row[p].count
                    pos.append(contentsOf: first..<(first + s.count))
                    pStart.append(contentsOf: repeatElement(Int32(startOf[p]), count: s.count))
                    pEnd.append(contentsOf: repeatElement(Int32(startOf[p] + first), count: s.count))
                } else {
                    pos.append(contentsOf: 0..<s.count)
                    if shares {
                        pStart.append(contentsOf: repeatElement(0, count: s.count))
                        pEnd.append(contentsOf: repeatElement(0, count: s.count))
                    }
                }
                at += s.count
            }
        }
        self.ids = ids
        positions = pos
        keyStart = starts
        segments = rows.map { $0.map(\.count) }
        segmentStart = seg
        self.prefixOf = shares ? prefixOf : nil
        sharedPrefix = shares ? SharedPrefix(start: pStart, end: pEnd) : nil
    }

    /// The number of rows B.
    public var rows: Int { sequences.count }

    /// The flat row index in [B·T] of token `token` of sequence `row`.
    public func flatIndex(row: Int, token: Int) -> Int { row * length + keyStart[row] + token }

    /// Next-token targets [B·T]: at token t of a row, the row's token t+1; 0 on pads and at each sequence's last token (mask
    /// those).
    public var nextTokenTargets: [Int32] {
        var out = [Int32](repeating: 0, count: rows * length)
        for (r, s) in sequences.enumerated() where s.count > 1 {
            for t in 0..<(s.count - 1) { out[flatIndex(row: r, token: t)] = s[t + 1] }
            // Packed rows: a sequence's last token does not predict the next sequence's first.
            if let lengths = segments?[r] {
                var end = 0
                for n in lengths { end += n; out[flatIndex(row: r, token: end - 1)] = 0 }
            }
        }
        return out
    }

    /// The rows split into consecutive micro-batches of at most `rowsPerBatch` rows, each padded to its own longest row.
    public func micro(rowsPerBatch: Int) throws -> [TokenBatch] {
        guard rowsPerBatch >= 1 else {
            throw ModelError.badInput(detail: "micro-batch rows must be ≥ 1, got \(rowsPerBatch)")
        }
        return try stride(from: 0, to: rows, by: rowsPerBatch).map { start in
            let range = start..<min(rows, start + rowsPerBatch)
            guard let segments else { return try TokenBatch(sequences: Array(sequences[range]), padID: padID) }
            return try TokenBatch(
                packedRows: range.map { r in
                    var at = 0
                    return segments[r].map { n in
                        defer { at += n }
                        return Array(sequences[r][at..<(at + n)])
                    }
                }, prefixOf: prefixOf.map { Array($0[range]) }, padID: padID)
        }
    }
}

extension TransformerModel {
    /// Final-normed hidden states [B·T, C] of a left-padded batch (pad rows hold finite values that callers mask).
    /// `adapters: false` runs the base alone when LoRA adapters are attached (the reference policy).
    public func hiddenStates(_ batch: TokenBatch, trainable: Bool, adapters: Bool = true) throws -> Variable {
        try hiddenStates(
            ids: batch.ids, batch: batch.rows, positions: batch.positions,
            keyStart: batch.keyStart.allSatisfy { $0 == 0 } ? nil : batch.keyStart, segmentStart: batch.segmentStart,
            prefix: batch.sharedPrefix, trainable: trainable, adapters: adapters)
    }
}
