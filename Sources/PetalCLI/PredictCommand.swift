import ArgumentParser
import Foundation
import PetalCore
import PetalData
import PetalModels
import PetalLayers
import PetalWeights

/// `petal predict`: the top classes of images, with a trained model or a backbone's own
/// ImageNet head.
struct PredictCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "predict",
        abstract: "Print the most probable classes of images.",
        discussion: """
        petal predict MODEL IMAGE...            with a model trained by petal train (a run folder or its .safetensors)
        petal predict --backbone efficientnet-lite0 IMAGE...   with the backbone's ImageNet head (top-5 ImageNet classes)
        """)

    @Argument(help: "A trained model (run folder or .safetensors) followed by images; or only images with --backbone.")
    var inputs: [String]
    @Option(help: "Use this backbone's own ImageNet classifier instead of a trained model.") var backbone: String?
    @Option(help: "Weights with the ImageNet top for --backbone (default: the installed ones; 'imagenet' downloads Keras's MobileNetV2).")
    var weights: String?
    @Option(help: "How many classes to show per image.") var top = 5
    @Option(help: "Images per batch.") var batchSize = 32
    @Flag(help: "JSON output, for scripts.") var json = false

    func validate() throws {
        if top < 1 { throw ValidationError("--top must be at least 1") }
        if batchSize < 1 { throw ValidationError("--batch-size must be at least 1") }
        if backbone == nil && inputs.count < 2 { throw ValidationError("give a model and at least one image (or --backbone)") }
        if backbone != nil && inputs.isEmpty { throw ValidationError("give at least one image") }
    }

    func run() throws {
        let (predictor, images) = try makePredictor()
        var results: [[String: Any]] = []
        for start in stride(from: 0, to: images.count, by: batchSize) {
            let chunk = Array(images[start..<min(start + batchSize, images.count)])
            var decoded: [(String, RGBImage)] = []
            for path in chunk {
                do {
                    decoded.append((path, try ImageDecoder.decode(contentsOf: URL(fileURLWithPath: path),
                                                                  width: predictor.size, height: predictor.size)))
                } catch {
                    FileHandle.standardError.write(Data("petal predict: skipping \(error)\n".utf8))
                    results.append(["path": path, "error": "\(error)"])
                }
            }
            guard !decoded.isEmpty else { continue }
            let probabilities = try predictor.probabilities(decoded.map(\.1))
            for ((path, _), row) in zip(decoded, probabilities) {
                let best = row.indices.sorted { row[$0] > row[$1] }.prefix(top)
                results.append(["path": path, "top": best.map {
                    ["index": $0, "class": predictor.classNames.indices.contains($0) ? predictor.classNames[$0] : "\($0)",
                     "probability": Double(row[$0])] as [String: Any]
                }])
            }
        }
        if json {
            let data = try JSONSerialization.data(withJSONObject: results, options: [.prettyPrinted, .sortedKeys])
            print(String(decoding: data, as: UTF8.self))
        } else {
            for r in results {
                print(r["path"] as! String)
                if let error = r["error"] { print("  error: \(error)"); continue }
                for entry in r["top"] as! [[String: Any]] {
                    print(String(format: "  %4d  %-30@ %.4f", entry["index"] as! Int, entry["class"] as! String,
                                 entry["probability"] as! Double))
                }
            }
        }
        if results.contains(where: { $0["error"] != nil }) { throw ExitCode(1) }
    }

    private func makePredictor() throws -> (Predictor, [String]) {
        if let backbone {
            guard let architecture = Architecture(name: backbone) else {
                throw ValidationError("unknown --backbone '\(backbone)'; use one of \(Backbones.nameList)")
            }
            let url: URL
            if weights == "imagenet", architecture.family == .mobileNetV2 {
                url = try KerasApplicationsDownloader().mobileNetV2(alpha: architecture.alpha, size: 224, includeTop: true)
            } else if let weights {
                url = URL(fileURLWithPath: weights)
            } else if let installed = PretrainedWeights.installedImageNetClassifier(for: architecture) {
                url = installed
            } else {
                throw ValidationError("no ImageNet classifier weights for \(architecture): pass --weights FILE (with the top), or --weights imagenet for mobilenetv2")
            }
            let binder = try PretrainedWeights.binder(for: architecture, url: url)
            let size = architecture.nativeInputSize
            let network = try architecture.build(height: size, width: size, classes: 1000, binder: binder)
            return (Predictor(network: network, size: size, normalization: architecture.normalization,
                              classNames: ImageNetClasses.names), inputs)
        }
        let model = try TransferClassifier.load(fileOrRunFolder: URL(fileURLWithPath: inputs[0]))
        return (Predictor(network: model.network, size: model.inputSize, normalization: model.normalization,
                          classNames: model.classNames), Array(inputs.dropFirst()))
    }
}

/// A network, its input size and normalisation, and its class names.
struct Predictor {
    let network: PetalLayers.Network
    let size: Int
    let normalization: InputNormalization
    let classNames: [String]

    func probabilities(_ images: [RGBImage]) throws -> [[Float]] {
        let n = images.count
        let batch = try Tensor(layout: .nhwc([n, 3, size, size]))
        let out = batch.floats
        let per = size * size * 3
        for (i, image) in images.enumerated() {
            image.pixels.withUnsafeBufferPointer { src in
                for j in 0..<per { out[i * per + j] = normalization.apply(src[j]) }
            }
        }
        let logits = try network.forward(batch, training: false)
        let p = try SoftmaxCrossEntropy.softmax(logits)
        let k = logits.shape[1]
        return (0..<n).map { Array(p[($0 * k)..<(($0 + 1) * k)]) }
    }
}
