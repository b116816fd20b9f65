// Packed micro-batches in the RL update (issue 24, item 1): with `update.max_tokens_per_micro_batch` the update, the
// reference pass and the critic put a mini-batch's sequences one after another in rows that attend only within each
// sequence, and compute no padding. The result must not depend on the packing: the same rollout, advantages and weights
// give the same gradients, objective metrics, reference log-probs and critic values as left-padded micro-batches,
// within 1e-5 relative (float32 rounding of a different summation order), at several budgets. With
// `update.share_prompt` (item 2) the sequences of a micro-batch that share a prompt hold it once and continue it: the
// same equalities hold, so the gradients flowing into the one prompt are the sum of what each copy would get (the
// fixture model has 2 layers and grouped-query attention: 4 query heads on 2 KV heads).
import Foundation
import XCTest
import VerityModel
@testable import VerityTraining

final class PackedUpdateTests: XCTestCase {
    /// The largest |a - b| over the largest |b|: gradients are compared at their own scale.
    func scaledError(_ a: [Float], _ b: [Float]) -> Double {
        let scale = b.map { abs(Double($0)) }.max() ?? 0
        let worst = zip(a, b).map { abs(Double($0) - Double($1)) }.max() ?? 0
        return worst / max(scale, 1e-30)
    }

    /// One step's rollout and advantages on the toy recipe, then the policy's (and critic's) gradient over one
    /// mini-batch, padded and packed at budgets from "every sequence alone" to "the whole mini-batch in one row".
    func checkPackingChangesNothing(extra: String, critic: Bool) throws {
        let run = try ToyRun(steps: 1, lr: 3e-2, saveEvery: 0, extra: extra)
        let t = try run.trainer()
        let settings = try t.stepSettings()
        let batch = try t.nextBatch()
        let rollout = try t.rollout(batch)
        let rewards = try t.rewards(rollout, batch)
        let padded = try t.advantages(rollout, batch, rewards)
        let members = rollout.sequences.indices
        let weights = t.miniBatchWeights(rollout, members)
        let longest = rollout.sequences.map(\.count).max() ?? 0
        let total = rollout.sequences.reduce(0) { $0 + $1.count }

        func policy(_ maxTokens: Int, share: Bool = false) throws
            -> (grads: [Float], sums: [String: Double], tokens: Double, saved: Double)
        {
            var u = Trainer.StepUpdate()
            t.model.zeroGrad()
            try t.accumulatePolicyGradient(
                rollout, padded, members: members, weights: weights, coefficients: settings.coefficients,
                metrics: true, maxTokens: maxTokens, sharePrompt: share, into: &u)
            t.model.store.finalizeGradients()
            return (t.model.store.gradients.values, u.sums, u.tokens, u.prefixTokensSaved)
        }
        let base = try policy(0)
        XCTAssertGreaterThan(base.grads.map { abs($0) }.max() ?? 0, 0, "the loss has a gradient")
        let n = t.loaded.recipe.rollout.n
        XCTAssertEqual(members.count, 4 * n)
        for (budget, share) in [1, longest, 2 * longest + 1, total].flatMap({ [($0, false), ($0, true)] }) {
            let plan = try t.microBatches(rollout, members, maxTokens: budget, sharePrompt: share)
            XCTAssertEqual(plan.flatMap(\.members).sorted(), Array(members), "every sequence once")
            for micro in plan {
                XCTAssertEqual(micro.batch.rows, 1, "one packed row")
                XCTAssertTrue(micro.members.count == 1 || micro.batch.length <= budget, "budget \(budget)")
                XCTAssertEqual(micro.batch.keyStart, [0], "no padding")
                if !share { XCTAssertNil(micro.batch.sharedPrefix) }
            }
            let saved = plan.reduce(0) { $0 + $1.prefixTokensSaved }
            if budget == total {
                XCTAssertEqual(plan.count, 1, "the whole mini-batch in one row")
                // Sequences with the same prompt (a group's n samples, and here each prompt is in two groups) share it
                // less its last token: one copy kept per distinct prompt.
                var copies: [[Int32]: Int] = [:]
                for b in members { copies[Array(rollout.sequences[b][0..<(rollout.promptLengths[b] - 1)]), default: 0] += 1 }
                let expected = copies.reduce(0) { $0 + ($1.value - 1) * $1.key.count }
                XCTAssertEqual(copies.count, 2, "two prompts, each in \(members.count / 2 / n) groups of \(n)")
                XCTAssertEqual(saved, share ? expected : 0, "prefix tokens saved")
                XCTAssertGreaterThan(expected, 0)
                if share {
                    XCTAssertNotNil(plan[0].batch.sharedPrefix)
                    XCTAssertEqual(plan[0].batch.length, total - expected, "the prompt computed once per group")
                }
            }
            let packed = try policy(budget, share: share)
            XCTAssertEqual(packed.saved, Double(saved))
            XCTAssertLessThanOrEqual(
                scaledError(packed.grads, base.grads), 1e-5, "policy gradient, budget \(budget), shared \(share)")
            XCTAssertEqual(packed.tokens, base.tokens)
            XCTAssertEqual(Set(packed.sums.keys), Set(base.sums.keys))
            // Per-token means of the objective's metrics. Some are rounding-level by construction on-policy (the
            // sampler-trainer gap, ppo_kl, a pg_loss whose advantages sum to zero per group), so the tolerance is
            // 1e-5 of the larger of the value and 1, the scale of a token's log-prob.
            for (k, v) in base.sums {
                let mine = (packed.sums[k] ?? .nan) / packed.tokens, theirs = v / base.tokens
                XCTAssertEqual(mine, theirs, accuracy: 1e-5 * max(abs(theirs), 1), "\(k), budget \(budget), \(share)")
            }
        }
        guard critic, let valueModel = t.critic else { return }
        func criticGradient(_ maxTokens: Int, share: Bool) throws -> [Float] {
            var u = Trainer.StepUpdate()
            valueModel.zeroGrad()
            try t.accumulateCriticGradient(
                rollout, padded, members: members, weights: weights, valueCoefficient: 1, metrics: true,
                maxTokens: maxTokens, sharePrompt: share, into: &u)
            valueModel.body.store.finalizeGradients()
            valueModel.head.finalizeGradients()
            return valueModel.body.store.gradients.values + valueModel.head.gradients.values
        }
        let criticBase = try criticGradient(0, share: false)
        for (budget, share) in [(longest, false), (total, false), (total, true)] {
            XCTAssertLessThanOrEqual(
                scaledError(try criticGradient(budget, share: share), criticBase), 1e-5,
                "critic gradient, budget \(budget), shared \(share)")
            // The critic's rollout values, read from a packed forward.
            let plan = try t.microBatches(rollout, members, maxTokens: budget, sharePrompt: share)
            for micro in plan {
                let v = try valueModel.values(micro.batch)
                for (j, b) in micro.members.enumerated() {
                    for tok in 0..<rollout.gen.samples[b].tokens.count {
                        let mine = Double(v[micro.flatIndex(j, token: rollout.promptLengths[b] + tok - 1)])
                        XCTAssertEqual(mine, padded.rolloutValues[b, tok], accuracy: 1e-5 * max(abs(mine), 1e-2))
                    }
                }
            }
        }
    }

    func testPackedGRPOWithAReferenceEqualsPadded() throws {
        try checkPackingChangesNothing(
            extra: "loss = function(step, terms) return { pg = 1.0, kl = 0.01, entropy = -0.001 } end,", critic: false)
    }

    func testPackedPPOWithACriticEqualsPadded() throws {
        try checkPackingChangesNothing(
            extra: "algorithm = \"ppo\", critic = { lr = 1e-2, gamma = 1.0, lambda = 0.95, value_clip = 0.5 },",
            critic: true)
    }

    func testTheBudgetIsARecipeSettingAndBadValuesAreNamed() throws {
        let run = try ToyRun(
            steps: 2, lr: 3e-2, saveEvery: 0, extra: "")
        let packed = try quietTrainer(
            recipe: run.root.appendingPathComponent("toy.lua"), run: run.root.appendingPathComponent("p"),
            resume: false, maxSteps: nil, set: ["update.max_tokens_per_micro_batch=64"])
        XCTAssertEqual(packed.loaded.recipe.update.maxTokensPerMicroBatch, 64)
        let m = try packed.run()
        for s in m { XCTAssertLessThan(s["logprob_mismatch_mean_abs"] ?? 1, 1e-5, "sampler = trainer, packed") }
        XCTAssertThrowsError(
            try quietTrainer(
                recipe: run.root.appendingPathComponent("toy.lua"), run: run.root.appendingPathComponent("q"),
                resume: false, maxSteps: nil, set: ["update.max_tokens_per_micro_batch=-1"])
        ) { error in
            XCTAssertTrue("\(error)".contains("max_tokens_per_micro_batch"), "\(error)")
        }
    }
}
