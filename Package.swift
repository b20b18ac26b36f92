// swift-tools-version:6.0
// Petal: transfer learning for image classifiers on Linux CPUs, with oneDNN kernels.
// The targets follow the data's way through the program: C libraries, core (tensors and
// the oneDNN bridge), layers, weight formats, models, data, training, evaluation, CLI.
import PackageDescription

let package = Package(
    name: "Petal",
    platforms: [.macOS(.v13)],
    products: [
        .library(name: "Petal", targets: ["PetalCore", "PetalLayers", "PetalWeights", "PetalModels",
                                          "PetalData", "PetalTraining", "PetalEvaluation", "PetalInference"]),
        .executable(name: "petal", targets: ["PetalCLI"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/weichsel/ZIPFoundation", from: "0.9.19"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        // Tests only: a real HTTP client for petal serve's tests.
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
    ],
    targets: [
        // C libraries, through module maps.
        .systemLibrary(name: "CDNNL", path: "Sources/CModules/CDNNL"),
        .systemLibrary(name: "CTurboJPEG", path: "Sources/CModules/CTurboJPEG"),
        .systemLibrary(name: "CPNG", path: "Sources/CModules/CPNG"),
        .systemLibrary(name: "CHDF5", path: "Sources/CModules/CHDF5"),

        // Tensors, parameters and the only place that calls oneDNN.
        .target(name: "PetalCore", dependencies: ["CDNNL"]),
        // Conv2D, BatchNormalization, activations, pooling, Dense, losses, and the layer graph.
        .target(name: "PetalLayers", dependencies: ["PetalCore"]),
        // Keras HDF5, PyTorch checkpoints, safetensors.
        .target(name: "PetalWeights", dependencies: ["PetalCore", "CHDF5", "ZIPFoundation"]),
        // Backbones (MobileNetV2, EfficientNet-Lite) and classifier heads.
        .target(name: "PetalModels", dependencies: ["PetalCore", "PetalLayers", "PetalWeights"],
                resources: [.copy("Resources/imagenet_classes.txt")]),
        // Scan, decode, augment, split and batch images.
        .target(name: "PetalData", dependencies: ["PetalCore", "CTurboJPEG", "CPNG"]),
        // Optimizers, callbacks, the training loop.
        .target(name: "PetalTraining", dependencies: ["PetalCore", "PetalLayers", "PetalModels", "PetalData", "PetalWeights"],
                // Lets Float.squareRoot() (a libc sqrtf that may set errno) vectorise in the
                // optimizers' inner loops: about 4x faster RMSprop and Adam steps.
                swiftSettings: [.unsafeFlags(["-Xcc", "-fno-math-errno"])]),
        // Metrics and the HTML report.
        .target(name: "PetalEvaluation", dependencies: ["PetalCore", "PetalData", "PetalTraining", "CTurboJPEG"]),
        // A trained model loaded once and used from many threads: decode, normalise, classify.
        .target(name: "PetalInference", dependencies: ["PetalCore", "PetalLayers", "PetalWeights", "PetalModels", "PetalData",
                                                       "PetalTraining"]),
        // `petal serve`: HTTP inference (Petal's API, the Open Inference Protocol, an upload page) with dynamic batching.
        .target(name: "PetalServe", dependencies: ["PetalCore", "PetalData", "PetalInference",
                                                  .product(name: "Hummingbird", package: "hummingbird")]),
        // The `petal` command.
        .executableTarget(name: "PetalCLI", dependencies: [
            "PetalCore", "PetalLayers", "PetalWeights", "PetalModels", "PetalData", "PetalTraining", "PetalEvaluation", "PetalInference",
            "PetalServe",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        // Petal's layers against bare oneDNN primitives (benchmarks/layers.sh).
        .executableTarget(name: "PetalBenchmarks", dependencies: ["PetalCore", "PetalLayers", "CDNNL"],
                          path: "benchmarks/PetalBenchmarks"),
        // One training step timed part by part, under ONEDNN_VERBOSE (benchmarks/step_profile.sh).
        .executableTarget(name: "PetalStepProfile", dependencies: ["PetalCore", "PetalLayers", "PetalModels", "PetalData",
                                                                   "PetalTraining"],
                          path: "benchmarks/StepProfile"),

        .testTarget(name: "PetalCoreTests", dependencies: ["PetalCore", "PetalTestSupport"]),
        .testTarget(name: "PetalLayersTests", dependencies: ["PetalLayers", "PetalTestSupport"]),
        .testTarget(name: "PetalWeightsTests", dependencies: ["PetalWeights", "PetalTestSupport"]),
        .testTarget(name: "PetalModelsTests", dependencies: ["PetalModels", "PetalTestSupport"]),
        .testTarget(name: "PetalDataTests", dependencies: ["PetalData", "PetalTestSupport"]),
        .testTarget(name: "PetalTrainingTests", dependencies: ["PetalTraining", "PetalTestSupport"]),
        .testTarget(name: "PetalEvaluationTests", dependencies: ["PetalEvaluation", "PetalTestSupport"]),
        .testTarget(name: "PetalInferenceTests", dependencies: ["PetalInference", "PetalTraining", "PetalTestSupport"]),
        .testTarget(name: "PetalServeTests", dependencies: [
            "PetalServe", "PetalInference", "PetalData", "PetalModels", "PetalTestSupport", "PetalCLI",
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
        ]),
        // Runs the built `petal` binary as a user would (the dependency makes SwiftPM build it).
        .testTarget(name: "PetalCLITests", dependencies: ["PetalCLI", "PetalData", "PetalTraining", "PetalInference",
                                                   "PetalEvaluation", "PetalTestSupport"]),
        // Shared by the tests: fixture lookup, temporary folders, the shared flowers path.
        .target(name: "PetalTestSupport", dependencies: ["PetalCore", "PetalWeights", "PetalData", "PetalModels"],
                path: "Tests/PetalTestSupport"),
    ],
    swiftLanguageModes: [.v6]
)
