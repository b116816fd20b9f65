// LossReport: `verity losses FILE.json`. It reads an `inputs` object in the layout of
// Tests/Fixtures/rl-losses/reference.json (logits, responses, masks, old/ref log-probs, scores and
// groups, token rewards, values, AdamW and clipping cases) and computes the `outputs` object with the
// same keys and nesting through the trainers' own code: log-probs, entropies and the total loss's
// gradient by `Ops.tokenLoss` with the Objective's per-token closure (an identity output matrix makes
// the hidden states the logits, so ∂loss/∂hidden is ∂loss/∂logits), advantages, GAE, the value loss,
// AdamW over a ParameterStore and its global-norm clipping. So a user can hold Verity's objective
// against a dump of their own verl or TRL run. Settings default to verl's and may be given in
// `inputs.settings`.
import Foundation
import VerityTensor
import VerityJSON

/// An input file that does not have the layout `verity losses` reads.
public struct LossReportError: Error, CustomStringConvertible, LocalizedError {
    /// The key path at fault.
    public var key: String
    /// What is wrong.
    public var detail: String
    /// `inputs.key: detail`.
    public var description: String { "inputs.\(key): \(detail)" }
    /// The same text as `description`.
    public var errorDescription: String? { description }
}

/// The `verity losses` computation.
public enum LossReport {
    /// Settings not carried by the fixture's inputs (verl's defaults, the fixture's values).
    public struct Settings: Sendable {
        /// PPO clip range and dual-clip constant.
        public var clip = 0.2, dualClip = 3.0
        /// Coefficients of the total loss: entropy bonus and KL loss (low_var_kl).
        public var entropyCoeff = 0.001, klCoef = 0.001
        /// (γ, λ) pairs for GAE.
        public var gae: [(Double, Double)] = [(1, 1), (1, 0.95), (0.99, 1), (0.99, 0.95)]
        /// Value clip range and the GAE pair whose returns the value loss uses.
        public var valueClip = 0.5, valueGAE = (0.99, 0.95)
        /// Global-norm clipping bound.
        public var maxNorm = 1.0
    }

    /// The `outputs` object for the `inputs` object.
    public static func compute(inputs: JSONValue) throws -> JSONValue {
        let r = Reader(root: inputs)
        var st = Settings()
        if let s = r.object("settings") {
            st.clip = s["clip"]?.doubleValue ?? st.clip
            st.dualClip = s["clip_ratio_c"]?.doubleValue ?? st.dualClip
            st.entropyCoeff = s["entropy_coeff"]?.doubleValue ?? st.entropyCoeff
            st.klCoef = s["kl_loss_coef"]?.doubleValue ?? st.klCoef
            st.valueClip = s["cliprange_value"]?.doubleValue ?? st.valueClip
            st.maxNorm = s["max_norm"]?.doubleValue ?? st.maxNorm
        }
        let (logitsFlat, lshape) = try r.array("logits")
        guard lshape.count == 3 else {
            throw LossReportError(key: "logits", detail: "expected [B, T, V], got shape \(lshape)")
        }
        let (b, t, v) = (lshape[0], lshape[1], lshape[2])
        let responses = try r.matrix("responses", b, t).map { Int32($0) }
        let mask = TokenMatrix(rows: b, columns: t, values: try r.matrix("response_mask", b, t))
        let old = try r.matrix("old_log_probs", b, t), ref = try r.matrix("ref_log_probs", b, t)
        guard responses.allSatisfy({ $0 >= 0 && Int($0) < v }) else {
            throw LossReportError(key: "responses", detail: "ids outside 0..<\(v)")
        }
        var out: [String: JSONValue] = [:]

        // Advantages.
        let rewardsOutcome = TokenMatrix(rows: b, columns: t, values: try r.matrix("token_level_rewards_outcome", b, t))
        let scores = (0..<b).map { rewardsOutcome.row($0).reduce(0, +) }
        let group = try r.vector("index", b).map { Int($0) }
        let grpo = Advantages.outcome(.grpo, scores: scores, group: group, mask: mask)
        out["advantages"] = .object([
            "grpo": nested(grpo.values, [b, t]),
            "drgrpo_no_std": nested(
                Advantages.outcome(.drGRPO, scores: scores, group: group, mask: mask).values, [b, t]),
            "rloo": nested(Advantages.outcome(.rloo, scores: scores, group: group, mask: mask).values, [b, t]),
        ])

        // The total loss through the fused head: hidden = logits, output matrix = identity.
        let objective = Objective(
            policy: PolicyLoss(clip: st.clip, dualClip: st.dualClip), kl: .lowVarKL, aggregation: .tokenMean)
        let weights = Aggregation.tokenMean.weights(mask: mask).values
        let batch = ObjectiveBatch(advantages: grpo.values, oldLogprobs: old, refLogprobs: ref, weights: weights)
        let hidden = Variable(Tensor(shape: [b * t, v], values: logitsFlat.map(Float.init)), requiresGrad: true)
        let eye = Tensor(zeros: [v, v])
        for i in 0..<v { eye.data[i * v + i] = 1 }
        let coefficients = LossCoefficients(pg: 1, entropy: -st.entropyCoeff, kl: st.klCoef)
        let (loss, lpT, entT) = Ops.tokenLoss(
            hidden, weight: Variable(eye), targets: responses, loss: objective.tokenTerm(batch, coefficients))
        loss.backward()
        let lp = lpT.values.map(Double.init), ent = entT.values.map(Double.init)
        out["log_probs"] = nested(lp, [b, t])
        out["entropy"] = nested(ent, [b, t])
        let entMean = Aggregation.tokenMean.aggregate(TokenMatrix(rows: b, columns: t, values: ent), mask: mask)
        out["entropy_token_mean"] = .number(entMean)

        // Policy loss and its metrics.
        let toks = (0..<(b * t)).map { objective.policy.token(logp: lp[$0], old: old[$0], advantage: grpo.values[$0]) }
        let pg = TokenMatrix(rows: b, columns: t, values: toks.map(\.loss))
        var modes: [String: JSONValue] = [:]
        for mode in Aggregation.allCases { modes[mode.rawValue] = .number(mode.aggregate(pg, mask: mask)) }
        func tokenMean(_ x: [Double]) -> Double {
            Aggregation.tokenMean.aggregate(TokenMatrix(rows: b, columns: t, values: x), mask: mask)
        }
        let metrics = objective.metrics(batch, logprobs: lpT.values, entropy: entT.values)
        out["policy_loss"] = .object([
            "advantages_used": .string("grpo"), "cliprange": .number(st.clip), "clip_ratio_c": .number(st.dualClip),
            "ratio": nested(toks.map(\.ratio), [b, t]), "pg_losses": nested(pg.values, [b, t]),
            "pg_losses_without_dual_clip": nested(toks.map(\.lossWithoutDualClip), [b, t]),
            "dual_clip_active_anywhere": .bool(zip(toks, mask.values).contains { $0.0.dualClipped && $0.1 != 0 }),
            "pg_loss": .object(modes), "pg_clipfrac": .number(metrics["pg_clipfrac"] ?? .nan),
            "ppo_kl": .number(metrics["ppo_kl"] ?? .nan),
            "pg_clipfrac_lower": .number(metrics["pg_clipfrac_lower"] ?? .nan),
        ])

        // KL estimators.
        var kls: [String: JSONValue] = [:]
        for est in [KLEstimator.k1, .abs, .mse, .lowVarKL] {
            let per = (0..<(b * t)).map { est.token(logp: lp[$0], ref: ref[$0]).value }
            kls[est.rawValue] = .object(["per_token": nested(per, [b, t]), "token_mean": .number(tokenMean(per))])
        }
        out["kl"] = .object(kls)
        let klMean = tokenMean((0..<(b * t)).map { KLEstimator.lowVarKL.token(logp: lp[$0], ref: ref[$0]).value })
        out["total_loss"] = .object([
            "pg_loss": modes["token-mean"] ?? .null, "entropy_loss": .number(entMean), "kl_loss": .number(klMean),
            "entropy_coeff": .number(st.entropyCoeff), "kl_loss_coef": .number(st.klCoef),
            "loss": .number(Double(loss.value.data[0])),
            "grad_logits": nested((hidden.grad?.values ?? []).map(Double.init), [b, t, v]),
        ])

        // GAE and the value loss.
        let rewardsGAE = TokenMatrix(rows: b, columns: t, values: try r.matrix("token_level_rewards_gae", b, t))
        let values = TokenMatrix(rows: b, columns: t, values: try r.matrix("values", b, t))
        var gaes: [String: JSONValue] = [:]
        var valueReturns: TokenMatrix?
        for (g, l) in st.gae + [st.valueGAE] {
            let res = Advantages.gae(rewards: rewardsGAE, values: values, mask: mask, gamma: g, lambda: l)
            if g == st.valueGAE.0 && l == st.valueGAE.1 { valueReturns = res.returns }
            gaes["gamma=\(fmt(g)),lam=\(fmt(l))"] = .object([
                "gamma": .number(g), "lam": .number(l), "advantages_unwhitened": nested(res.unwhitened.values, [b, t]),
                "advantages": nested(res.advantages.values, [b, t]), "returns": nested(res.returns.values, [b, t]),
            ])
        }
        out["gae"] = .object(gaes)
        let vpreds = try r.matrix("vpreds", b, t)
        let vl = ValueLoss(clip: st.valueClip)
        let ret = valueReturns?.values ?? []
        let vt = (0..<(b * t)).map {
            vl.token(prediction: vpreds[$0], rolloutValue: values.values[$0], target: ret[$0])
        }
        out["value_loss"] = .object([
            "returns_from": .string("gae gamma=\(fmt(st.valueGAE.0)),lam=\(fmt(st.valueGAE.1))"),
            "cliprange_value": .number(st.valueClip),
            "per_token_max_loss": nested(vt.map(\.loss), [b, t]), "vf_loss": .number(0.5 * tokenMean(vt.map(\.loss))),
            "vf_clipfrac": .number(tokenMean(vt.map { $0.clipped ? 1 : 0 })),
        ])

        // AdamW: successive steps on one tensor.
        guard let aw = r.object("adamw") else { throw LossReportError(key: "adamw", detail: "missing") }
        let ar = Reader(root: .object(aw))
        let config = AdamWConfig(
            beta1: try ar.array("betas").0.first ?? 0.9, beta2: try ar.array("betas").0.last ?? 0.999,
            eps: try ar.number("eps"), weightDecay: try ar.number("weight_decay"))
        let lr = try ar.number("lr")
        let (p0, pshape) = try ar.array("param_init")
        let (gs, gshape) = try ar.array("grads")
        let store = ParameterStore([("p", pshape)])
        for (i, x) in p0.enumerated() { store.values.data[i] = Float(x) }
        let opt = AdamW(count: store.count, config: config)
        var steps: [JSONValue] = []
        let per = store.count
        for k in 0..<(gshape.first ?? 0) {
            store.variables[0].setGrad(Tensor(shape: pshape, values: gs[(k * per)..<((k + 1) * per)].map(Float.init)))
            opt.step(store, lr: lr)
            steps.append(
                .object([
                    "param": nested(store.values.values.map(Double.init), pshape),
                    "exp_avg": nested(opt.firstMoment.map(Double.init), pshape),
                    "exp_avg_sq": nested(opt.secondMoment.map(Double.init), pshape),
                ]))
        }
        out["adamw"] = .object(["steps": .array(steps)])

        // Global-norm clipping over two tensors, then one AdamW step on the clipped large case.
        guard case .object(let gc)? = inputs["grad_clip"], case .array(let initList)? = gc["params_init"] else {
            throw LossReportError(key: "grad_clip", detail: "missing or without params_init")
        }
        let tensors = try initList.enumerated().map { i, v in try Reader.flatten(v, key: "grad_clip.params_init[\(i)]")
        }
        var clip: [String: JSONValue] = ["max_norm": .number(st.maxNorm)]
        var afterClip: [JSONValue] = []
        for case_ in ["large", "small"] {
            guard case .array(let gl)? = gc["grads_" + case_] else {
                throw LossReportError(key: "grad_clip.grads_\(case_)", detail: "missing")
            }
            let grads = try gl.enumerated().map { i, v in try Reader.flatten(v, key: "grad_clip.grads_\(case_)[\(i)]") }
            let cs = ParameterStore(tensors.enumerated().map { ("t\($0.offset)", $0.element.1) })
            for (i, tv) in tensors.enumerated() {
                let view = cs.variables[i].value
                for (j, x) in tv.0.enumerated() { view.data[j] = Float(x) }
                cs.variables[i].setGrad(Tensor(shape: tv.1, values: grads[i].0.map(Float.init)))
            }
            let norm = cs.clipGradients(maxNorm: st.maxNorm)
            clip["case_" + case_] = .object([
                "total_norm": .number(norm), "clip_coef_applied": .number(min(1, st.maxNorm / (norm + 1e-6))),
                "clipped": .array(cs.variables.map { nested(($0.grad?.values ?? []).map(Double.init), $0.shape) }),
            ])
            if case_ == "large" {
                let o = AdamW(count: cs.count, config: config)
                o.step(cs, lr: lr)
                for (i, v) in cs.variables.enumerated() {
                    let off = cs.offsets[i], n = v.value.count
                    afterClip.append(
                        .object([
                            "param": nested(v.value.values.map(Double.init), v.shape),
                            "exp_avg": nested(o.firstMoment[off..<(off + n)].map(Double.init), v.shape),
                            "exp_avg_sq": nested(o.secondMoment[off..<(off + n)].map(Double.init), v.shape),
                        ]))
                }
            }
        }
        clip["adamw_step_after_clip_case_large"] = .array(afterClip)
        out["grad_clip"] = .object(clip)
        return .object(out)
    }

    static func fmt(_ x: Double) -> String { x == x.rounded() ? String(format: "%.1f", x) : "\(x)" }

    /// Nested JSON arrays of `flat` in `shape`.
    static func nested(_ flat: [Double], _ shape: [Int]) -> JSONValue {
        guard let first = shape.first else { return .number(flat.first ?? .nan) }
        if shape.count == 1 { return .array(flat.map { .number($0) }) }
        let inner = shape.dropFirst().reduce(1, *)
        return .array(
            (0..<first).map { nested(Array(flat[($0 * inner)..<(($0 + 1) * inner)]), Array(shape.dropFirst())) })
    }

    /// Typed access to the inputs with errors naming the key.
    struct Reader {
        let root: JSONValue

        func object(_ key: String) -> [String: JSONValue]? {
            if case .object(let o)? = root[key] { return o }
            return nil
        }

        func number(_ key: String) throws -> Double {
            guard let d = root[key]?.doubleValue else {
                throw LossReportError(key: key, detail: "missing or not a number")
            }
            return d
        }

        func array(_ key: String) throws -> ([Double], [Int]) {
            guard let v = root[key] else { throw LossReportError(key: key, detail: "missing") }
            return try Reader.flatten(v, key: key)
        }

        func matrix(_ key: String, _ b: Int, _ t: Int) throws -> [Double] {
            let (flat, shape) = try array(key)
            guard shape == [b, t] else {
                throw LossReportError(key: key, detail: "expected shape [\(b), \(t)], got \(shape)")
            }
            return flat
        }

        func vector(_ key: String, _ n: Int) throws -> [Double] {
            let (flat, shape) = try array(key)
            guard shape == [n] else { throw LossReportError(key: key, detail: "expected shape [\(n)], got \(shape)") }
            return flat
        }

        /// A rectangular nested array of numbers as (flat values, shape).
        static func flatten(_ v: JSONValue, key: String) throws -> ([Double], [Int]) {
            switch v {
            case .array(let items):
                guard !items.isEmpty else { return ([], [0]) }
                var flat: [Double] = [], inner: [Int]? = nil
                for (i, it) in items.enumerated() {
                    let (f, s) = try flatten(it, key: "\(key)[\(i)]")
                    if let inner, inner != s {
                        throw LossReportError(
                            key: "\(key)[\(i)]", detail: "ragged array: shape \(s), expected \(inner)")
                    }
                    inner = s
                    flat += f
                }
                return (flat, [items.count] + (inner ?? []))
            default:
                guard let d = v.doubleValue else {
                    throw LossReportError(key: key, detail: "expected a number, found \(v)")
                }
                return ([d], [])
            }
        }
    }
}
