// swift-tools-version: 6.1
// Verity: reinforcement learning with verifiable reward on language models, in one Swift program.
// Layout and data flow: DESIGN.md. System packages: liblua5.4-dev, libopenblas-dev, libopenmpi-dev (Debian).
import PackageDescription

let package = Package(
    name: "Verity",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "verity", targets: ["verity"]),
        .library(name: "VerityTensor", targets: ["VerityTensor"]),
        .library(name: "VerityModel", targets: ["VerityModel"]),
        .library(name: "VerityTokenizer", targets: ["VerityTokenizer"]),
        .library(name: "VeritySampling", targets: ["VeritySampling"]),
        .library(name: "VerityVerify", targets: ["VerityVerify"]),
        .library(name: "VerityLua", targets: ["VerityLua"]),
        .library(name: "VerityTraining", targets: ["VerityTraining"]),
        .library(name: "VerityEval", targets: ["VerityEval"]),
        .library(name: "VerityData", targets: ["VerityData"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // MARK: - System libraries and the only C in the package
        .systemLibrary(name: "CBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CLua", pkgConfig: "lua5.4", providers: [.apt(["liblua5.4-dev"])]),
        .target(name: "CLuaShim", dependencies: ["CLua"]),
        .systemLibrary(name: "CMPI", pkgConfig: "ompi-c", providers: [.apt(["libopenmpi-dev"])]),
        .target(name: "CMPIShim", dependencies: ["CMPI"]),
        .executableTarget(name: "verity-luac", dependencies: ["CLuaShim"]),
        .plugin(name: "LuaSyntaxCheck", capability: .buildTool(), dependencies: ["verity-luac"]),
        .plugin(
            name: "CheckScripts",
            capability: .command(
                intent: .custom(verb: "check-scripts", description: "Syntax-check every .lua under Scripts/")),
            dependencies: ["verity-luac"]),

        // MARK: - Libraries
        .target(name: "VerityCore"),
        .target(name: "VerityMeasure"),
        .target(name: "VerityJSON"),
        .target(name: "VerityDistributed", dependencies: ["CMPIShim"]),
        .target(name: "VerityTensor", dependencies: ["CBLAS", "VerityCore", "VerityMeasure"]),
        .target(name: "VerityTokenizer", dependencies: ["VerityCore", "VerityJSON"]),
        .target(name: "VerityModel", dependencies: ["VerityTensor", "VerityTokenizer", "VerityJSON"]),
        .target(name: "CDecodeKernels"),
        .target(
            name: "VeritySampling",
            dependencies: ["VerityTensor", "VerityModel", "VerityTokenizer", "VerityMeasure", "CDecodeKernels"]),
        .target(name: "VerityVerify", dependencies: ["VerityCore"]),
        .target(name: "VerityData", dependencies: ["VerityCore", "VerityJSON"]),
        .target(
            name: "VerityScripts", path: "Scripts", exclude: ["bench", "mutate.sh", "mutations.txt", "fuzz.sh", "mpi"],
            resources: [
                .copy("lib"), .copy("rewards"), .copy("prompts"), .copy("losses"), .copy("schedules"), .copy("recipes"),
            ],
            plugins: ["LuaSyntaxCheck"]),
        .target(
            name: "VerityLua",
            dependencies: [
                "CLua", "CLuaShim", "VerityScripts", "VerityCore", "VerityVerify", "VerityTokenizer", "VerityJSON",
            ]),
        .target(
            name: "VerityTraining",
            dependencies: [
                "VerityCore", "VerityTensor", "VerityModel", "VerityTokenizer", "VeritySampling", "VerityJSON",
                "VerityLua", "VerityEval", "VerityDistributed",
            ]),
        .target(
            name: "VerityEval",
            dependencies: [
                "VerityCore", "VerityJSON", "VerityModel", "VerityTokenizer", "VeritySampling",
                "VerityVerify", "VerityLua", "VerityMeasure",
            ]),
        .target(
            name: "VerityBench",
            dependencies: [
                "VerityCore", "VerityMeasure", "VerityTensor", "VerityModel", "VerityTokenizer", "VeritySampling",
                "VerityTraining",
                "VerityEval",
                "VerityVerify", "VerityLua",
            ]),
        .executableTarget(
            name: "verity",
            dependencies: [
                "VerityTensor", "VerityModel", "VerityTokenizer", "VeritySampling", "VerityVerify", "VerityLua",
                "VerityBench", "VerityJSON", "VerityTraining", "VerityEval", "VerityData", "VerityDistributed",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),

        // MARK: - Tests (one target per library; reference fixtures shared through VerityFixtures)
        .target(
            name: "VerityFixtures", path: "Tests/Fixtures", exclude: ["README.md"],
            resources: [
                .copy("tiny-qwen2"), .copy("tiny-qwen3"), .copy("qwen2.5-tokenizer"), .copy("rl-losses"),
                .copy("configs"), .copy("grader"), .copy("gguf"),
            ]),
        .testTarget(name: "VerityTensorTests", dependencies: ["VerityTensor", "VerityFixtures"]),
        .testTarget(
            name: "VerityModelTests", dependencies: ["VerityModel", "VerityFixtures"], resources: [.copy("Reference")]),
        .testTarget(
            name: "VerityTokenizerTests", dependencies: ["VerityTokenizer", "VerityJSON", "VerityFixtures"],
            exclude: ["Scripts"]),
        .testTarget(name: "VeritySamplingTests", dependencies: ["VeritySampling", "VerityFixtures"]),
        .testTarget(name: "VerityVerifyTests", dependencies: ["VerityVerify", "VerityFixtures"]),
        .testTarget(
            name: "VerityTrainingTests",
            dependencies: ["VerityTraining", "VerityFixtures", "VerityLua", "VerityModel"],
            exclude: ["Scripts"]),
        .testTarget(name: "VerityDistributedTests", dependencies: ["VerityDistributed"]),
        .testTarget(name: "VerityDataTests", dependencies: ["VerityData", "VerityJSON", "VerityVerify"]),
        .testTarget(name: "VerityEvalTests", dependencies: ["VerityEval", "VerityFixtures", "VerityJSON"]),
        .testTarget(
            name: "VerityLuaTests",
            dependencies: [
                "VerityLua", "VerityCore", "VerityFixtures", "VerityTokenizer", "VerityJSON",
            ]),
    ]
)
