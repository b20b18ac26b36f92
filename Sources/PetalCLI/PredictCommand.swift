import ArgumentParser
import Foundation
import PetalCore
import PetalData
import PetalInference
import PetalModels

/// `petal predict`: the top classes of images, with a trained model or a backbone's own
/// ImageNet head, through `ImageClassifier`.
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
    @Option(help: "Weights with the ImageNet top for --backbone (default: the installed ones; 'imagenet' downloads them for \(Backbones.imageNetDownloadNames.joined(separator: ", "))).")
    var weights: String?
    // .unconditional reads "-3" as the value, so the range check below names the option.
    @Option(parsing: .unconditional, help: "How many classes to show per image.") var top = 5
    @Option(parsing: .unconditional, help: "Images per forward pass.") var batchSize = ImageClassifier.batchSize
    @Flag(help: "JSON output, for scripts.") var json = false
    @Option(help: "Test-time augmentation: \(TestTimeAugmentation.names) (flip: the mean of the probabilities of each image and its mirror).")
    var tta = TestTimeAugmentation.none.rawValue

    func validate() throws {
        if top < 1 { throw ValidationError("--top must be at least 1, not \(top)") }
        if batchSize < 1 { throw ValidationError("--batch-size must be at least 1, not \(batchSize)") }
        if backbone == nil && inputs.count < 2 { throw ValidationError("give a model and at least one image (or --backbone)") }
        if backbone != nil && inputs.isEmpty { throw ValidationError("give at least one image") }
        try checkTTA(tta)
        if let backbone, Architecture(name: backbone) == nil {
            throw ValidationError("unknown --backbone '\(backbone)'; use one of \(Backbones.nameList)")
        }
    }

    /// One image's answer, as `--json` prints it.
    struct ImagePrediction: Codable {
        var path: String
        var top: [ClassScore]?
        var error: String?
    }

    func run() throws {
        let (classifier, images) = try makeClassifier()
        let results = try classifier.classify(files: images.map { URL(fileURLWithPath: $0) }, top: top, batchSize: batchSize)
        let predictions = zip(images, results).map { path, result in
            switch result {
            case .success(let classification):
                return ImagePrediction(path: path, top: classification.top)
            case .failure(let error):
                FileHandle.standardError.write(Data("petal predict: skipping \(error)\n".utf8))
                return ImagePrediction(path: path, error: "\(error)")
            }
        }
        if json {
            print(String(decoding: try PetalJSON.encode(predictions), as: UTF8.self))
        } else {
            for prediction in predictions {
                print(prediction.path)
                if let error = prediction.error { print("  error: \(error)") }
                for score in prediction.top ?? [] {
                    print("  \(pad(String(score.index), 4, left: true))  \(pad(score.className, 30)) "
                          + String(format: "%.4f", score.probability))
                }
            }
        }
        if predictions.contains(where: { $0.error != nil }) { throw ExitCode(1) }
    }

    private func pad(_ text: String, _ width: Int, left: Bool = false) -> String {
        let fill = String(repeating: " ", count: max(0, width - text.count))
        return left ? fill + text : text + fill
    }

    private func makeClassifier() throws -> (ImageClassifier, [String]) {
        guard let backbone, let architecture = Architecture(name: backbone) else {
            return (try ImageClassifier(contentsOf: URL(fileURLWithPath: inputs[0]), testTimeAugmentation: augmentation),
                    Array(inputs.dropFirst()))
        }
        let source: ImageNetWeights = switch weights {
        case nil: .installed
        case "imagenet": .download
        case let path?: .file(URL(fileURLWithPath: path))
        }
        do {
            return (try ImageClassifier(backbone: architecture, weights: source), inputs)
        } catch InferenceError.noImageNetClassifier(let name, let reason) where weights == nil {
            // The library's reason, with the options that fix it.
            let download = architecture.facts.imageNetDownload != nil ? ", or --weights imagenet to download them" : ""
            throw InferenceError.noImageNetClassifier(
                architecture: name, reason: "\(reason); pass --weights FILE (with the classifier)\(download)")
        }
    }
}
