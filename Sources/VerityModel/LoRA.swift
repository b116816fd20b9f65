// LoRA: low-rank adapters on a model's projection matrices (Hu et al. 2021, "LoRA: Low-Rank Adaptation of
// Large Language Models"), held in PEFT's layout so that `peft` loads what Verity writes. An adapted
// matrix W [out, in] gains A [r, in] and B [out, r], and the layer computes x·Wᵀ + (α/r)·(x·Aᵀ)·Bᵀ
// (`Ops.loraLinear`). The adapters live in a `ParameterStore` of their own, so the trainer's optimizer,
// clipping, checkpoints and all-reduce cover only them. The base model's store stays frozen, and with
// the adapters switched off the base is the reference policy (no copy).
// This file also holds PEFT's files (adapter_config.json and adapter_model.safetensors, read and
// written), merging into the base (`verity merge`, and loading a folder that holds adapters), and the
// merged matrix the sampler packs.
// Not here: dropout (the sampler's log-probs must equal the trainer's, so a recipe's dropout is 0), rsLoRA,
// and training itself (VerityTraining).
import Foundation
import VerityTensor

// MARK: - Targets

/// A projection an adapter may target: the recipe's short name (`q`) or PEFT's module name (`q_proj`).
public enum LoRATarget: String, CaseIterable, Sendable {
    case q, k, v, o, gate, up, down

    /// PEFT's module name (`target_modules`).
    public var module: String { rawValue + "_proj" }

    /// The module's path inside a decoder layer (Hugging Face names).
    public var path: String {
        switch self {
        case .q, .k, .v, .o: return "self_attn." + module
        case .gate, .up, .down: return "mlp." + module
        }
    }

    /// The target named `name` (short or module name), if any.
    public init?(name: String) {
        if let t = LoRATarget(rawValue: name) {
            self = t
        } else if let t = LoRATarget.allCases.first(where: { $0.module == name }) {
            self = t
        } else {
            return nil
        }
    }

    /// The store index of this projection's weight in layer parameters `p`.
    public func weight(_ p: LayerParameters) -> Int {
        switch self {
        case .q: return p.q
        case .k: return p.k
        case .v: return p.v
        case .o: return p.o
        case .gate: return p.gate
        case .up: return p.up
        case .down: return p.down
        }
    }
}

/// An adapter's shape: rank r, scale α/r, and the projections it targets (in every layer).
public struct LoRASettings: Sendable, Equatable {
    /// The rank r ≥ 1.
    public var rank: Int
    /// α; the update is scaled by α/r (PEFT's default scaling, not rsLoRA's).
    public var alpha: Double
    /// The adapted projections, in canonical order without repeats.
    public var targets: [LoRATarget]

    /// Settings for rank `rank`, `alpha` and `targets` (sorted into canonical order, repeats dropped).
    public init(rank: Int, alpha: Double, targets: [LoRATarget]) {
        self.rank = rank
        self.alpha = alpha
        self.targets = LoRATarget.allCases.filter(targets.contains)
    }

    /// α/r.
    public var scale: Float { Float(alpha / Double(rank)) }
}

// MARK: - Adapters

/// The adapters of one model: A and B for every targeted projection of every layer, in one parameter store whose names
/// are PEFT's (`base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight`).
public final class LoRAAdapters {
    /// Rank, α and targets.
    public let settings: LoRASettings
    /// A and B of every adapted projection, layer by layer in target order, A before B.
    public let store: ParameterStore
    /// Base store index of each adapted weight → the store indices of its A and B.
    public let pairs: [Int: (a: Int, b: Int)]
    /// α/r.
    public let scale: Float
    /// The base parameter count it was laid out for (to refuse a model it does not match).
    let baseCount: Int

    /// PEFT's tensor name for part "A" or "B" of base weight `baseName` ("model.layers.0.self_attn.q_proj.weight").
    public static func peftName(_ baseName: String, part: String) -> String {
        let module = baseName.hasSuffix(".weight") ? String(baseName.dropLast(7)) : baseName
        return "base_model.model.\(module).lora_\(part).weight"
    }

    /// Adapters laid out for `model` (values uninitialised: the caller fills them). Throws when the rank is below 1 or
    /// above a targeted matrix's smaller side, or when no target is given.
    init(layout model: TransformerModel, settings: LoRASettings, source: String) throws {
        guard !settings.targets.isEmpty else {
            throw ModelError.badConfig(file: source, key: "targets", detail: "no projection to adapt")
        }
        guard settings.rank >= 1 else {
            throw ModelError.badConfig(file: source, key: "rank", detail: "\(settings.rank) is below 1")
        }
        guard settings.alpha > 0, settings.alpha.isFinite else {
            throw ModelError.badConfig(file: source, key: "alpha", detail: "\(settings.alpha) is not a number > 0")
        }
        let base = model.store
        var shapes: [(String, [Int])] = [], weightOrder: [Int] = []
        for p in model.layers {
            for t in settings.targets {
                let i = t.weight(p)
                let (out, inp) = (base.shapes[i][0], base.shapes[i][1])
                guard settings.rank <= min(out, inp) else {
                    throw ModelError.badConfig(
                        file: source, key: "rank",
                        detail: "\(settings.rank) is above the width of \(base.names[i]) [\(out), \(inp)] (at most \(min(out, inp)))")
                }
                shapes.append((LoRAAdapters.peftName(base.names[i], part: "A"), [settings.rank, inp]))
                shapes.append((LoRAAdapters.peftName(base.names[i], part: "B"), [out, settings.rank]))
                weightOrder.append(i)
            }
        }
        self.settings = settings
        store = ParameterStore(shapes)
        var pairs: [Int: (a: Int, b: Int)] = [:]
        for (j, i) in weightOrder.enumerated() { pairs[i] = (2 * j, 2 * j + 1) }
        self.pairs = pairs
        scale = settings.scale
        baseCount = base.count
    }

    /// New adapters as PEFT initialises them: A ~ U(−1/√in, 1/√in) (kaiming-uniform with a = √5), B = 0, so the adapted
    /// model starts equal to the base. `source` names the settings' origin in errors (the recipe file).
    public static func initialized(
        for model: TransformerModel, settings: LoRASettings, generator: inout SeededGenerator, source: String = "lora"
    ) throws -> LoRAAdapters {
        let a = try LoRAAdapters(layout: model, settings: settings, source: source)
        for (_, pair) in a.pairs.sorted(by: { $0.key < $1.key }) {
            let av = a.store.variables[pair.a].value
            let bound = 1 / Float(av.shape[1]).squareRoot()
            for e in 0..<av.count { av.data[e] = (2 * generator.uniform() - 1) * bound }
            a.store.variables[pair.b].value.fill(0)
        }
        return a
    }

    /// Whether these adapters were laid out for `model`'s parameters.
    public func fits(_ model: TransformerModel) -> Bool {
        model.store.count == baseCount && pairs.keys.allSatisfy { $0 < model.store.shapes.count }
    }

    // MARK: Merging

    /// W + s·B·A of base weight `i` into `out` ([out, in], may be the base's own storage).
    public func mergedWeight(_ i: Int, base: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>, model: TransformerModel)
    {
        guard let pair = pairs[i] else {
            if UnsafePointer(out) != base { out.update(from: base, count: model.store.variables[i].value.count) }
            return
        }
        let shape = model.store.shapes[i], (rows, cols) = (shape[0], shape[1]), r = settings.rank
        if UnsafePointer(out) != base { out.update(from: base, count: rows * cols) }
        BLAS.gemm(
            m: rows, n: cols, k: r, alpha: scale, a: store.variables[pair.b].value.data, lda: r,
            b: store.variables[pair.a].value.data, ldb: cols, beta: 1, c: out, ldc: cols)
    }

    /// Adds s·B·A into every adapted weight of `model`'s store (a merged model, for `verity merge` and for scoring a folder
    /// that holds adapters), and bumps its version.
    public func merge(into model: TransformerModel) {
        for i in pairs.keys.sorted() {
            let w = model.store.variables[i].value.data
            mergedWeight(i, base: w, into: w, model: model)
        }
        model.store.bumpVersion()
    }

    // MARK: PEFT files

    /// Writes PEFT's adapter_config.json and adapter_model.safetensors (float32) into `directory`; `baseModel` is the
    /// base model's folder as `peft` will look it up (`base_model_name_or_path`).
    public func save(to directory: URL, baseModel: String) throws {
        do { try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true) } catch {
            throw ModelError.writeFailed(file: directory.path, detail: "\(error)")
        }
        let config: [String: JSONValue] = [
            "peft_type": .string("LORA"), "task_type": .string("CAUSAL_LM"),
            "base_model_name_or_path": .string(baseModel), "r": .integer(Int64(settings.rank)),
            "lora_alpha": settings.alpha == settings.alpha.rounded()
                ? .integer(Int64(settings.alpha)) : .number(settings.alpha),
            "lora_dropout": .number(0), "bias": .string("none"), "fan_in_fan_out": .bool(false),
            "target_modules": .array(settings.targets.map { .string($0.module) }), "use_rslora": .bool(false),
            "use_dora": .bool(false), "inference_mode": .bool(true), "init_lora_weights": .bool(true),
            "modules_to_save": .null, "layers_to_transform": .null, "layers_pattern": .null,
            "rank_pattern": .object([:]), "alpha_pattern": .object([:]), "revision": .null,
        ]
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let url = directory.appendingPathComponent("adapter_config.json")
        let bytes: Data
        do { bytes = try enc.encode(JSONValue.object(config)) } catch {
            throw ModelError.writeFailed(file: url.path, detail: "\(error)")
        }
        try AtomicFile.write(bytes, to: url)
        try SafeTensorsWriter.write(
            store.namedValues, to: directory.appendingPathComponent("adapter_model.safetensors"), dtype: .f32)
    }

    /// Reads `directory`'s adapter_config.json: the settings and the base model it names.
    public static func readConfig(directory: URL) throws -> (settings: LoRASettings, baseModel: String) {
        let url = directory.appendingPathComponent("adapter_config.json")
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw ModelError.fileMissing(file: url.path)
        }
        guard let json = try? JSONDecoder().decode(JSONValue.self, from: data), case .object(let o) = json else {
            throw ModelError.badConfig(file: url.path, key: "", detail: "not a JSON object")
        }
        func bad(_ key: String, _ detail: String) -> ModelError { .badConfig(file: url.path, key: key, detail: detail) }
        guard o["peft_type"]?.stringValue == "LORA" else {
            throw bad("peft_type", "\(o["peft_type"]?.description ?? "absent"), not \"LORA\"")
        }
        guard let r = o["r"]?.intValue, r >= 1 else { throw bad("r", "missing or not an integer ≥ 1") }
        guard let alpha = o["lora_alpha"]?.doubleValue, alpha > 0 else {
            throw bad("lora_alpha", "missing or not a number > 0")
        }
        let names: [String]
        switch o["target_modules"] {
        case .array(let a)?: names = a.compactMap(\.stringValue)
        case .string(let s)?: names = [s]
        default: throw bad("target_modules", "missing or not a list of module names")
        }
        var targets: [LoRATarget] = []
        for n in names {
            guard let t = LoRATarget(name: n) else {
                throw bad(
                    "target_modules",
                    "'\(n)' is not a projection Verity adapts (\(LoRATarget.allCases.map(\.module).joined(separator: ", ")))")
            }
            targets.append(t)
        }
        if o["use_rslora"] == .bool(true) { throw bad("use_rslora", "rsLoRA scaling is not supported") }
        if o["use_dora"] == .bool(true) { throw bad("use_dora", "DoRA is not supported") }
        if o["fan_in_fan_out"] == .bool(true) { throw bad("fan_in_fan_out", "transposed (Conv1D) layers are not supported") }
        if let b = o["bias"]?.stringValue, b != "none" { throw bad("bias", "'\(b)': only \"none\" is supported") }
        for key in ["layers_to_transform", "modules_to_save"] {
            if let v = o[key], v != .null { throw bad(key, "\(v) is not supported (adapters on every layer only)") }
        }
        for key in ["rank_pattern", "alpha_pattern"] {
            if case .object(let p)? = o[key], !p.isEmpty { throw bad(key, "per-module ranks are not supported") }
        }
        return (LoRASettings(rank: r, alpha: alpha, targets: targets), o["base_model_name_or_path"]?.stringValue ?? "")
    }

    /// The adapters in `directory` (PEFT's files) for `model`; every tensor must be present with its shape, and the file
    /// may hold no other, so adapters made for another base fail here with the tensor named.
    public static func load(from directory: URL, model: TransformerModel) throws -> LoRAAdapters {
        let (settings, _) = try readConfig(directory: directory)
        let adapters = try LoRAAdapters(
            layout: model, settings: settings, source: directory.appendingPathComponent("adapter_config.json").path)
        try adapters.loadValues(from: directory)
        return adapters
    }

    /// Reads the values of adapter_model.safetensors in `directory` into this store (bumps its version).
    public func loadValues(from directory: URL) throws {
        let url = directory.appendingPathComponent("adapter_model.safetensors")
        let file = try SafeTensorsFile(url: url)
        // PEFT saves without the adapter's name; a state dict taken from a live PeftModel carries ".default".
        func key(_ name: String) -> String? {
            let named = name.replacingOccurrences(of: ".weight", with: ".default.weight")
            return file.entries[name] != nil ? name : file.entries[named] != nil ? named : nil
        }
        var used = Set<String>()
        for (name, v) in zip(store.names, store.variables) {
            guard let k = key(name), let e = file.entries[k] else {
                throw ModelError.missingTensor(file: url.path, tensor: name)
            }
            guard e.shape == v.shape else {
                throw ModelError.wrongShape(file: url.path, tensor: name, expected: v.shape, found: e.shape)
            }
            let t = try file.tensor(k)
            v.value.data.update(from: t.data, count: t.count)
            used.insert(k)
        }
        if let extra = file.entries.keys.sorted().first(where: { !used.contains($0) }) {
            throw ModelError.badConfig(
                file: url.path, key: extra,
                detail: "the adapters do not match the base model and settings (no such projection is adapted)")
        }
        store.bumpVersion()
    }
}

// MARK: - Folders holding adapters

extension TransformerModel {
    /// Whether `directory` holds PEFT adapters instead of full weights (adapter_config.json and no model.safetensors).
    public static func holdsAdapters(_ directory: URL) -> Bool {
        let fm = FileManager.default
        return fm.fileExists(atPath: directory.appendingPathComponent("adapter_config.json").path)
            && !fm.fileExists(atPath: directory.appendingPathComponent("model.safetensors").path)
            && !fm.fileExists(atPath: directory.appendingPathComponent("model.safetensors.index.json").path)
    }

    /// The base model folder an adapter folder names: `base_model_name_or_path` as an absolute path, else relative to the
    /// adapter folder, else to the current directory.
    public static func adapterBase(_ directory: URL) throws -> URL {
        let (_, base) = try LoRAAdapters.readConfig(directory: directory)
        let file = directory.appendingPathComponent("adapter_config.json").path
        guard !base.isEmpty else {
            throw ModelError.badConfig(file: file, key: "base_model_name_or_path", detail: "empty: no base model to load")
        }
        let fm = FileManager.default
        let candidates =
            base.hasPrefix("/")
            ? [URL(fileURLWithPath: base)]
            : [directory.appendingPathComponent(base), URL(fileURLWithPath: base)]
        guard let found = candidates.first(where: { fm.fileExists(atPath: $0.appendingPathComponent("config.json").path) })
        else {
            throw ModelError.badConfig(
                file: file, key: "base_model_name_or_path", detail: "'\(base)' is not a model folder (no config.json)")
        }
        return found
    }

    /// An adapter folder's base model with its adapters merged in (for scoring, sampling and `verity merge`).
    static func loadMergingAdapters(directory: URL) throws -> TransformerModel {
        let model = try TransformerModel.load(directory: try adapterBase(directory))
        let adapters = try LoRAAdapters.load(from: directory, model: model)
        adapters.merge(into: model)
        return model
    }
}

// MARK: - Merging a folder

/// `verity merge`: an adapter folder's base with the adapters merged in, written as a Hugging Face folder.
public enum AdapterMerge {
    /// The files besides the weights that a merged folder carries over (from the adapter folder, else the base).
    static let sideFiles = [
        "tokenizer.json", "tokenizer_config.json", "generation_config.json", "vocab.json", "merges.txt",
        "special_tokens_map.json",
    ]

    /// Merges the adapters of `directory` into their base and writes config.json, model.safetensors (in `dtype`) and the
    /// tokenizer files into `out`, built in a temporary folder beside it and renamed into place. `out` must not exist or
    /// be an empty folder.
    public static func write(adapterFolder directory: URL, to out: URL, dtype: SafeTensorsDType) throws {
        let fm = FileManager.default
        guard TransformerModel.holdsAdapters(directory) else {
            throw ModelError.fileMissing(file: directory.appendingPathComponent("adapter_config.json").path)
        }
        if fm.fileExists(atPath: out.path), !((try? fm.contentsOfDirectory(atPath: out.path))?.isEmpty ?? false) {
            throw ModelError.writeFailed(file: out.path, detail: "the folder exists and is not empty")
        }
        let base = try TransformerModel.adapterBase(directory)
        let model = try TransformerModel.loadMergingAdapters(directory: directory)
        let tmp = out.deletingLastPathComponent().appendingPathComponent(".\(out.lastPathComponent).tmp-\(getpid())")
        try? fm.removeItem(at: tmp)
        do {
            try model.save(to: tmp, dtype: dtype)
            for f in sideFiles {
                let src = [directory, base].map { $0.appendingPathComponent(f) }.first { fm.fileExists(atPath: $0.path) }
                if let src { try fm.copyItem(at: src, to: tmp.appendingPathComponent(f)) }
            }
            if fm.fileExists(atPath: out.path) { try fm.removeItem(at: out) }
            try fm.moveItem(at: tmp, to: out)
        } catch let e as ModelError {
            try? fm.removeItem(at: tmp)
            throw e
        } catch {
            try? fm.removeItem(at: tmp)
            throw ModelError.writeFailed(file: out.path, detail: error.localizedDescription)
        }
    }
}
