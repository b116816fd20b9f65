// ModelError: the typed errors of model loading and saving. Each names the file and the tensor or
// config key at fault and the offending value, so a bad checkpoint gives one clear line, never a crash.
import Foundation

// MARK: - ModelError

/// Why a model folder, config or safetensors file could not be used.
public enum ModelError: Error, CustomStringConvertible, Equatable {
    /// The file does not exist or cannot be opened.
    case fileMissing(file: String)
    /// The file ends before the header or data it announces.
    case truncated(file: String, detail: String)
    /// The safetensors header is not the JSON a safetensors file holds.
    case badHeader(file: String, detail: String)
    /// A tensor's data_offsets point outside the data section or disagree with its dtype and shape.
    case badOffsets(file: String, tensor: String, detail: String)
    /// A tensor the model needs is absent.
    case missingTensor(file: String, tensor: String)
    /// A tensor has a different shape than the config implies.
    case wrongShape(file: String, tensor: String, expected: [Int], found: [Int])
    /// A tensor's dtype is not one Verity reads (F32, BF16, F16).
    case unsupportedDtype(file: String, tensor: String, dtype: String)
    /// config.json is malformed or a key holds an unusable value.
    case badConfig(file: String, key: String, detail: String)
    /// config.json names a model_type Verity does not implement.
    case unknownModelType(file: String, value: String)
    /// An input (token id, sequence) does not fit the model.
    case badInput(detail: String)
    /// Writing a file failed.
    case writeFailed(file: String, detail: String)

    /// One line naming the file, the tensor or key, and what is wrong.
    public var description: String {
        switch self {
        case .fileMissing(let f): return "\(f): file not found or unreadable"
        case .truncated(let f, let d): return "\(f): truncated file: \(d)"
        case .badHeader(let f, let d): return "\(f): bad safetensors header: \(d)"
        case .badOffsets(let f, let t, let d): return "\(f): tensor '\(t)': bad data_offsets: \(d)"
        case .missingTensor(let f, let t): return "\(f): missing tensor '\(t)'"
        case .wrongShape(let f, let t, let e, let g): return "\(f): tensor '\(t)' has shape \(g), expected \(e)"
        case .unsupportedDtype(let f, let t, let d):
            return "\(f): tensor '\(t)' has unsupported dtype \(d) (F32, BF16, F16 are read)"
        case .badConfig(let f, let k, let d): return "\(f): key '\(k)': \(d)"
        case .unknownModelType(let f, let v):
            return
                "\(f): key 'model_type': unsupported value '\(v)' (\(Architectures.modelTypes.joined(separator: ", ")) are supported)"
        case .badInput(let d): return "bad input: \(d)"
        case .writeFailed(let f, let d): return "\(f): cannot write: \(d)"
        }
    }
}

extension ModelError: LocalizedError {
    /// The same line as `description`, for Foundation's error printing.
    public var errorDescription: String? { description }
}
