import ArgumentParser
import Foundation
import PetalModels
import PetalWeights

/// `petal weights`: see, inspect, convert and fetch pretrained weights.
struct WeightsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "weights",
        abstract: "List, inspect, import and download pretrained weights.",
        subcommands: [List.self, Inspect.self, Import.self, Download.self])

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List installed weights ($PETAL_HOME/weights or ~/.cache/petal/weights, and ~/.keras/models).")

        func run() throws {
            print("Petal weights folder: \(PetalPaths.weightsDirectory.path)")
            print("Keras models folder:  \(PetalPaths.kerasModelsDirectory.path)")
            // Every registered family's pretrained weights, installed or not (scripts/setup.sh installs them).
            print("Backbone weights (installed by scripts/setup.sh):")
            for source in Backbones.pretrained {
                let state = PetalPaths.installedWeights(named: source.file.name) == nil ? "not installed" : "installed"
                print("  " + [source.architecture.description, state, source.file.name, source.trainedOn, source.licence]
                    .joined(separator: "  "))
            }
            print("ImageNet weights downloaded on request (petal weights download NAME, or --weights imagenet):")
            for (name, download) in Backbones.downloads {
                let state = FileManager.default.fileExists(atPath: download.destination.path) ? "downloaded" : "not downloaded"
                print("  " + [name, state, download.url.absoluteString].joined(separator: "  "))
            }
            print("Weight files:")
            let files = PetalPaths.installedWeightFiles()
            if files.isEmpty {
                print("No weights installed. Run scripts/setup.sh, or `petal weights download`.")
                return
            }
            for url in files {
                let format = (try? WeightFormat.detect(url).rawValue) ?? "unknown"
                let size = (try? FileManager.default.attributesOfItem(atPath: url.path)[.size] as? Int) ?? 0
                print(String(format: "%-16@ %8.1f MB  %@", format as NSString, Double(size) / 1_048_576, url.path as NSString))
            }
        }
    }

    struct Inspect: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print the tensors of a weights file with their shapes.")

        @Argument(help: "A Keras .h5, PyTorch .pth/.pt or .safetensors file.")
        var file: String

        func run() throws {
            let start = Date()
            let weights = try WeightFile.read(URL(fileURLWithPath: file))
            let seconds = Date().timeIntervalSince(start)
            let values = weights.tensors.values.reduce(0) { $0 + $1.count }
            print("\(file): \(weights.format.rawValue), \(weights.names.count) tensors, \(values) values, read in \(String(format: "%.3f", seconds)) s")
            for (key, value) in weights.metadata.sorted(by: { $0.key < $1.key }) where key != "model_config" {
                print("  \(key): \(value)")
            }
            if let config = weights.metadata["model_config"] { print("  model_config: \(config.count) characters of Keras JSON") }
            for name in weights.names { print("\(name)  \(weights.tensors[name]!.shape)") }
        }
    }

    struct Import: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Convert a Keras HDF5 or PyTorch checkpoint to safetensors (nothing in the file is executed).")

        @Argument(help: "A Keras .h5 or PyTorch .pth/.pt file.")
        var file: String

        @Option(help: "Output file (default: the input's name with .safetensors); an existing file is not replaced.")
        var out: String?

        func run() throws {
            let input = URL(fileURLWithPath: file)
            let output = out.map { URL(fileURLWithPath: $0) }
                ?? input.deletingPathExtension().appendingPathExtension("safetensors")
            guard output.standardizedFileURL != input.standardizedFileURL else {
                throw ValidationError("--out must differ from the input file")
            }
            if FileManager.default.fileExists(atPath: output.path) { throw CommandError.outputExists(path: output.path) }
            let weights = try WeightFile.read(input)
            try weights.writeSafetensors(to: output)
            print("Wrote \(weights.names.count) tensors from \(weights.format.rawValue) \(input.path) to \(output.path)")
        }
    }

    struct Download: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Download a backbone's ImageNet weights (\(Backbones.imageNetDownloadNames.joined(separator: ", "))).")

        @Argument(help: "The backbone: \(Backbones.imageNetDownloadNames.joined(separator: ", ")) (default: mobilenetv2).")
        var backbone = "mobilenetv2"

        @Option(help: "Width multiplier, \(Backbones.widthMultiplierHelp).")
        var alpha: Double = 1.0

        @Option(help: "Input size (Keras's MobileNetV2 files: 96, 128, 160, 192 or 224; default: the native size).")
        var size: Int?

        @Flag(help: "With the ImageNet classifier (Keras's MobileNetV2 files; torchvision's always have it).")
        var includeTop = false

        func run() throws {
            guard let architecture = Architecture(name: backbone, alpha: alpha) else {
                throw ValidationError("unknown backbone '\(backbone)'; use one of \(Backbones.nameList)")
            }
            guard let download = try PretrainedWeights.imageNetDownload(
                for: architecture, inputSize: size ?? architecture.nativeInputSize, includeTop: includeTop) else {
                throw ValidationError("no ImageNet weights to download for \(backbone); there are for \(Backbones.imageNetDownloadNames.joined(separator: ", "))")
            }
            print(try WeightsDownloader().fetch(download).path)
        }
    }
}
