// `verity merge CHECKPOINT --out DIR [--dtype f32|bf16]`: a LoRA checkpoint (PEFT's adapter folder) merged into its
// base model and written as a Hugging Face folder. Parsing and printing only; the work is VerityModel.AdapterMerge.
import ArgumentParser
import Foundation
import VerityModel

/// `verity merge CHECKPOINT --out DIR`.
struct Merge: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Merge a LoRA checkpoint's adapters into its base model and write a Hugging Face folder.")

    @Argument(help: "A folder holding adapter_config.json and adapter_model.safetensors (a LoRA run's checkpoint).")
    var checkpoint: String
    @OptionGroup var output: ModelFolderOutput

    func run() throws {
        try AdapterMerge.write(
            adapterFolder: URL(fileURLWithPath: checkpoint), to: output.url, dtype: output.safetensorsDType)
        print("merged \(checkpoint) into its base: \(output.out)")
    }
}

/// `--out DIR [--dtype f32|bf16]`: the Hugging Face folder a command writes (`merge`, `import gguf`).
struct ModelFolderOutput: ParsableArguments {
    @Option(help: "The folder to write (must not exist, or be empty).") var out: String
    @Option(help: "The dtype of the written weights: f32 or bf16.") var dtype = "f32"

    func validate() throws {
        guard ["f32", "bf16"].contains(dtype) else {
            throw ValidationError("--dtype must be f32 or bf16, not '\(dtype)'")
        }
    }

    var url: URL { URL(fileURLWithPath: out) }
    var safetensorsDType: SafeTensorsDType { dtype == "bf16" ? .bf16 : .f32 }
}
