// DataParallel: the trainer's step across the ranks of an MPI job (VerityDistributed's Communicator), equal to one
// process on the same global batch. Every rank draws the same batch (the batch sampler and Lua are seeded alike)
// and holds the same weights. The rollout is split: each rank samples a contiguous run of the batch's prompts,
// balanced by expected tokens, with seeds that follow the global prompt index, so the tokens are those one process
// would draw; the samples are then all-gathered, and rewards and advantages are computed on the whole batch by
// every rank (group statistics need no further exchange). The update is split again, by the tokens each group
// actually holds: every rank runs its share of each mini-batch, weighted by the mini-batch's global token counts,
// the gradients are summed over ranks in buckets, and every rank applies the same AdamW step. Rank 0 alone writes
// the run folder.
import Foundation
import VerityCore
import VerityDistributed
import VerityTensor
import VeritySampling

extension Trainer {
    /// The job's communicator (one process alone unless started by an MPI launcher).
    var comm: Communicator { options.communicator }
    /// Whether this rank writes the run folder, prints progress and evaluates.
    var isRoot: Bool { comm.rank == 0 }

    // MARK: Rollout

    /// The rollout of `req` (all of the batch's prompts) across ranks: this rank generates its contiguous share of
    /// the prompts, balanced by expected tokens (the prompt plus n times the example's mean response length so far,
    /// or the cap), and every rank ends with every sample, in the order one process gives.
    func distributedGenerate(_ req: GenerationRequest, _ batch: StepBatch) throws -> GenerationResult {
        let r = loaded.recipe, n = r.rollout.n
        let costs = batch.rows.map { row in
            Double(row.prompt.ids.count) + Double(n) * (responseLengthMean[row.example] ?? Double(r.rollout.maxTokens))
        }
        let mine = Shards.contiguous(costs: costs, parts: comm.size)[comm.rank]
        var local = req
        local.prompts = Array(req.prompts[mine])
        local.firstPromptIndex = req.firstPromptIndex + mine.lowerBound
        local.forcedLengths = req.forcedLengths.map { Array($0[mine.lowerBound * n..<mine.upperBound * n]) }
        var samples: [GeneratedSample] = []
        var stats = GenerationStats()
        if !mine.isEmpty {
            let gen = try engine.generate(local, detokenizer: tokenizer.detokenizerFactory(skipSpecialTokens: true))
            samples = gen.samples
            stats = gen.stats
        }
        var w = WireWriter()
        w.int(samples.count)
        for s in samples {
            w.int(mine.lowerBound + s.promptIndex)
            w.int(s.sampleIndex)
            w.int(s.finishReason == .stop ? 0 : 1)
            w.int32s(s.tokens)
            w.floats(s.logprobs)
            w.floats(s.samplingLogprobs)
            w.string(s.matchedStopString)
            w.string(s.text)
        }
        var all: [GeneratedSample] = []
        for (k, part) in try comm.allGather(w.bytes).enumerated() {
            var rd = WireReader(part)
            do {
                for _ in 0..<(try rd.int()) {
                    let p = try rd.int(), s = try rd.int(), reason: FinishReason = try rd.int() == 0 ? .stop : .length
                    let tokens = try rd.int32s(), lp = try rd.floats(), slp = try rd.floats()
                    let stop = try rd.string(), text = try rd.string()
                    all.append(
                        GeneratedSample(
                            promptIndex: p, sampleIndex: s, tokens: tokens, logprobs: lp, samplingLogprobs: slp,
                            finishReason: reason, matchedStopString: stop, text: text))
                }
            } catch {
                throw TrainingError("step \(step + 1): the rollout from rank \(k) cannot be read: \(error)")
            }
        }
        guard all.count == req.prompts.count * n else {
            throw TrainingError("step \(step + 1): the ranks returned \(all.count) samples, the batch has \(req.prompts.count * n)")
        }
        for (k, row) in batch.rows.enumerated() {
            let lengths = all[k * n..<(k + 1) * n].map { Double($0.tokens.count) }
            responseLengthMean[row.example] = lengths.reduce(0, +) / Double(max(1, lengths.count))
        }
        return GenerationResult(samples: all, stats: stats)
    }

    // MARK: Update

    /// This rank's share of `members` (a mini-batch, or the whole batch): whole groups of n samples, contiguous,
    /// balanced by the tokens the update computes for them. One process gets all of `members`.
    func share(_ rollout: StepRollout, _ members: Range<Int>) -> Range<Int> {
        guard comm.size > 1 else { return members }
        let n = loaded.recipe.rollout.n
        let groups = (members.count + n - 1) / n
        let costs = (0..<groups).map { g -> Double in
            let lo = members.lowerBound + g * n, hi = min(members.upperBound, lo + n)
            return Double((lo..<hi).reduce(0) { $0 + rollout.sequences[$1].count })
        }
        let part = Shards.contiguous(costs: costs, parts: comm.size)[comm.rank]
        return (members.lowerBound + part.lowerBound * n)..<min(members.upperBound, members.lowerBound + part.upperBound * n)
    }

    /// Rows `range` (absolute sample indices) of a mini-batch's weights whose row 0 is sample `first`.
    static func rows(_ weights: TokenMatrix, _ range: Range<Int>, first: Int) -> TokenMatrix {
        var out = TokenMatrix(rows: range.count, columns: weights.columns)
        for (j, b) in range.enumerated() { for t in 0..<weights.columns { out[j, t] = weights[b - first, t] } }
        return out
    }

    /// Sums `store`'s gradient block over ranks (each rank holds its share of one global loss's gradient).
    func reduceGradients(_ store: ParameterStore) throws {
        guard comm.size > 1 else { return }
        try store.allReduceGradients(CommunicatorReducer(comm))
    }

    /// Sums the update's metric sums and counters over ranks (the named sums joined in rank order, so every rank has
    /// the same numbers).
    func reduceUpdateMetrics(_ u: inout StepUpdate) throws {
        guard comm.size > 1 else { return }
        var total: [String: Double] = [:]
        for part in try comm.allGather(u.sums) { for (k, v) in part { total[k, default: 0] += v } }
        u.sums = total
        let c = try comm.allReduceSum([
            u.tokens, u.computedTokens, u.prefixTokensSaved, u.valueLoss, u.valueClipped, u.valueTokens,
        ])
        (u.tokens, u.computedTokens, u.prefixTokensSaved) = (c[0], c[1], c[2])
        (u.valueLoss, u.valueClipped, u.valueTokens) = (c[3], c[4], c[5])
    }

    // MARK: Start and stop

    /// Makes every rank hold rank 0's state: after a resume (only rank 0 reads the checkpoint, so a different number
    /// of ranks, or machines without the run folder, resume alike), the trained values, the optimizers' moments, the
    /// step, the data position and the history are broadcast. Otherwise every rank loaded the same folder and seed;
    /// a checksum of the trained values proves it, and a rank whose model differs stops the job.
    func synchronizeRanks(resumed: Bool) throws {
        guard comm.size > 1 else { return }
        let trained = model.trainableStore
        if resumed {
            let st = try comm.broadcast(
                State(
                    step: step, sampler: sampler, adamStep: optimizer.step, lastTerms: lastTerms,
                    recipeName: loaded.recipe.name, parameterCount: trained.count,
                    criticAdamStep: critic?.bodyOptimizer.step, history: history))
            try broadcastValues(trained)
            try broadcastMoments(optimizer, step: st.adamStep)
            if let critic {
                try broadcastValues(critic.body.store)
                try broadcastValues(critic.head)
                try broadcastMoments(critic.bodyOptimizer, step: st.criticAdamStep ?? 0)
                try broadcastMoments(critic.headOptimizer, step: st.criticAdamStep ?? 0)
            }
            (step, sampler, lastTerms, history) = (st.step, st.sampler, st.lastTerms, st.history ?? [:])
        } else {
            let sums = try comm.allGather(Trainer.checksum(trained))
            if let k = sums.firstIndex(where: { $0 != sums[0] }) {
                throw TrainingError(
                    "rank \(k) holds different starting weights from rank 0 (checksum \(sums[k]) against \(sums[0])): "
                        + "every rank must load the same model folder \(modelDirectory.path)")
            }
        }
    }

    func broadcastValues(_ store: ParameterStore) throws {
        try comm.broadcast(UnsafeMutableBufferPointer(start: store.values.data, count: store.count))
        store.bumpVersion()
    }

    func broadcastMoments(_ opt: AdamW, step: Int) throws {
        var m = opt.firstMoment, v = opt.secondMoment
        try m.withUnsafeMutableBufferPointer { try comm.broadcast($0) }
        try v.withUnsafeMutableBufferPointer { try comm.broadcast($0) }
        opt.restore(firstMoment: m, secondMoment: v, step: step)
    }

    /// An order-sensitive checksum of a store's values (FNV-1a over the bits).
    static func checksum(_ store: ParameterStore) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        let p = store.values.data
        for i in 0..<store.count {
            h = (h ^ UInt64(p[i].bitPattern)) &* 0x100_0000_01b3
        }
        return h
    }

    /// Rank 0 writes the checkpoint; every rank returns once it is complete.
    func checkpointOnRoot() throws {
        if isRoot { try saveCheckpoint() }
        try comm.barrier()
    }

    /// Whether any rank was asked to stop (so that all stop after the same step).
    func anyRankStopping() throws -> Bool {
        guard comm.size > 1 else { return stopRequest.isSet }
        return try comm.allReduceMax([stopRequest.isSet ? 1 : 0])[0] > 0
    }
}

/// Sums gradient buckets over the ranks of a communicator.
final class CommunicatorReducer: GradientReducer {
    let comm: Communicator
    init(_ comm: Communicator) { self.comm = comm }
    func allReduce(_ bucket: UnsafeMutableBufferPointer<Float>) throws { try comm.allReduceSum(bucket) }
}
