// Supervised fine-tuning (`verity sft`, `algorithm = "sft"`): one step draws a batch of examples as
// `verity train` does (repeated and shuffled by the recipe's seed), renders each prompt with the
// prompt plugin and chat format, appends the example's response (`sft.response_field`) and the
// end-of-text token, and minimises the mean next-token negative log-likelihood over the response
// tokens (the prompt masked) with the loss mix's `sft` coefficient, through the same fused
// per-token objective, clipping and AdamW as the RL step. Rows are packed (`sft.pack_tokens`: several
// examples a row, each attending only to itself) or one example a row; either way they are cut into
// micro-batches that bound activation memory. The run folder, checkpoints, resume, metrics and
// progress line are the Trainer's.
import Foundation
import VerityCore
import VerityTensor
import VerityModel
import VerityLua
import VerityJSON

extension Trainer {
    /// The response tokens of example `i` for SFT: its `sft.response_field`, then the end-of-text token.
    func sftResponse(_ i: Int) throws -> [Int32] {
        let r = loaded.recipe
        guard let text = loaded.trainExamples[i][r.sft.responseField]?.stringValue else {
            throw TrainingError(
                "\(loaded.trainData.path): example \(i + 1) has no string field \"\(r.sft.responseField)\" (sft.response_field)"
            )
        }
        var ids = tokenizer.encodeInt32(text, specialTokens: .plainText)
        if r.sft.appendEOS {
            guard let eos = tokenizer.eosTokenID ?? engine.eosTokenIds.min().map(Int.init) else {
                throw TrainingError(
                    "\(modelDirectory.path): sft.append_eos is set but the tokenizer and model name no end-of-text token"
                )
            }
            ids.append(Int32(eos))
        }
        return ids
    }

    /// Greedy first-fit packing of sequences (in the given order) into rows of at most `capacity` tokens.
    static func pack(_ lengths: [Int], capacity: Int) -> [[Int]] {
        packSharing(lengths, prefixes: Array(repeating: nil, count: lengths.count), capacity: capacity)
    }

    /// First-fit packing (in the given order) into rows of at most `capacity` tokens where a sequence whose prefix
    /// (`prefixes[i]`, nil: none) another sequence of the row already has costs only its tokens after the prefix. With
    /// no prefixes it is `pack`.
    static func packSharing(_ lengths: [Int], prefixes: [[Int32]?], capacity: Int) -> [[Int]] {
        var rows: [[Int]] = [], room: [Int] = [], held: [Set<[Int32]>] = []
        for (i, n) in lengths.enumerated() {
            let cost = { (r: Int) in prefixes[i].map { held[r].contains($0) ? n - $0.count : n } ?? n }
            if let r = room.indices.first(where: { room[$0] >= cost($0) }) {
                room[r] -= cost(r)
                rows[r].append(i)
                if let p = prefixes[i] { held[r].insert(p) }
            } else {
                rows.append([i])
                room.append(capacity - n)
                held.append(prefixes[i].map { [$0] } ?? [])
            }
        }
        return rows
    }

    /// One SFT step; returns its metrics.
    func sftStep() throws -> [String: Double] {
        let r = loaded.recipe, state = loaded.state
        let t0 = Date()
        try state.seed(run: UInt64(bitPattern: Int64(r.seed)), step: step)
        let lr = try r.learningRate(step: step, in: state)
        let mix = try r.lossMix(step: step, terms: lastTerms, in: state)
        let coefficients = LossCoefficients(entropy: mix["entropy"] ?? 0, sft: mix["sft"] ?? 0)
        guard coefficients.sft != 0 else {
            throw TrainingError(
                "\(r.file): an SFT recipe's loss mix must give `sft` a non-zero coefficient (step \(step) gave none)")
        }

        // Examples: prompt + response + end-of-text; over-long ones are skipped and counted, or stop the run.
        var sequences: [[Int32]] = [], promptLengths: [Int] = [], skipped = 0
        for i in sampler.next(r.train.batchSize) {
            let p = try prompt(i)
            let response = try sftResponse(i)
            let total = p.ids.count + response.count
            if p.ids.count > r.rollout.maxPromptTokens || total > r.sft.maxTokens || p.ids.isEmpty {
                if r.rollout.longPrompt == "stop" {
                    throw TrainingError(
                        "\(loaded.trainData.path): example \(i + 1) has \(p.ids.count) prompt + \(response.count) response "
                            + "tokens, over rollout.max_prompt_tokens = \(r.rollout.maxPromptTokens) or sft.max_tokens = "
                            + "\(r.sft.maxTokens) (rollout.long_prompt = \"stop\")")
                }
                skipped += 1
                continue
            }
            sequences.append(p.ids + response)
            promptLengths.append(p.ids.count)
        }
        guard !sequences.isEmpty else {
            throw TrainingError(
                "\(r.file): every example of step \(step) is longer than sft.max_tokens = \(r.sft.maxTokens)")
        }
        // Rows: packed (longest first, first fit) or one sequence each; micro-batches of rows.
        let order = sequences.indices.sorted { sequences[$0].count > sequences[$1].count }
        let rows: [[Int]] =
            r.sft.packTokens > 0
            ? Trainer.pack(order.map { sequences[$0].count }, capacity: r.sft.packTokens).map { $0.map { order[$0] } }
            : order.map { [$0] }
        let responseTokens = sequences.indices.reduce(0) { $0 + sequences[$1].count - promptLengths[$1] }
        let weight = 1 / Double(responseTokens)

        let tu = Date()
        model.zeroGrad()
        var nll = 0.0, entropy = 0.0, trainTokens = 0, paddedTokens = 0
        let rowsPerMicro = max(1, r.update.microBatchSize)
        for mstart in stride(from: 0, to: rows.count, by: rowsPerMicro) {
            let micro = Array(rows[mstart..<min(rows.count, mstart + rowsPerMicro)])
            let batch =
                r.sft.packTokens > 0
                ? try TokenBatch(packedRows: micro.map { $0.map { sequences[$0] } })
                : try TokenBatch(sequences: micro.map { sequences[$0[0]] })
            let count = batch.rows * batch.length
            var w = [Double](repeating: 0, count: count)
            for (j, members) in micro.enumerated() {
                var at = 0
                for e in members {
                    // Token t predicts token t+1: the response's tokens are predicted from prompt end - 1 on.
                    for t in (promptLengths[e] - 1)..<(sequences[e].count - 1) {
                        w[batch.flatIndex(row: j, token: at + t)] = weight
                    }
                    at += sequences[e].count
                }
            }
            trainTokens += batch.sequences.reduce(0) { $0 + $1.count }
            paddedTokens += count
            let zeros = [Double](repeating: 0, count: count)
            let ob = ObjectiveBatch(advantages: zeros, oldLogprobs: zeros, refLogprobs: nil, weights: w)
            let (lpv, entv) = try lossBackward(batch, ob, coefficients)
            for i in 0..<count where w[i] != 0 {
                nll -= Double(lpv[i]) * w[i]
                entropy += Double(entv[i]) * w[i]
            }
        }
        let gradNorm = model.trainableStore.gradientNorm()
        var skippedUpdates = 0
        if try acceptGradient(norm: gradNorm) {
            if r.optimizer.maxGradNorm > 0 { model.trainableStore.clipGradients(maxNorm: r.optimizer.maxGradNorm) }
            optimizer.step(model.trainableStore, lr: lr)
        } else {
            skippedUpdates = 1
        }
        let updateSeconds = Date().timeIntervalSince(tu)
        step += 1
        lastSamples = []
        lastTerms = ["sft": nll, "entropy": entropy]
        let seconds = Date().timeIntervalSince(t0)
        return [
            "step": Double(step), "sft_loss": nll, "entropy": entropy, "grad_norm": gradNorm, "lr": lr,
            "seconds": seconds, "seconds_update": updateSeconds, "examples": Double(sequences.count),
            "response_tokens": Double(responseTokens), "train_tokens": Double(trainTokens),
            "pad_fraction": 1 - Double(trainTokens) / Double(max(paddedTokens, 1)), "rows": Double(rows.count),
            "tokens_per_s": Double(trainTokens) / max(updateSeconds, 1e-9),
            "peak_rss_mb": Trainer.peakRSSMegabytes(), "skipped_prompts": Double(skipped),
            "skipped_updates": Double(skippedUpdates), "optimizer_steps": Double(1 - skippedUpdates),
        ]
    }
}
