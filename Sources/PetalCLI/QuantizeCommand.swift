import ArgumentParser
import Foundation
import PetalCore
import PetalInference
import PetalModels
import PetalWeights

/// `petal quantize`: post-training static int8 quantization of a trained model, through
/// `Quantization` (PetalInference) and `QuantizedClassifier` (PetalModels).
struct QuantizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "quantize",
        abstract: "Quantize a trained model to int8 (about 4x smaller, faster on CPUs with int8 instructions).",
        discussion: """
        petal quantize RUN                                 calibrate on the run's validation split
        petal quantize MODEL --calibrate DATA --out FILE   calibrate on DATA (class sub-folders or images)

        Weights: int8 per output channel; activations: u8/s8 scales calibrated on a few hundred \
        images. The result is a Petal model file that predict, evaluate and serve load like any other.
        """)

    @Argument(help: ArgumentHelp("A trained float model (run folder or .safetensors).", valueName: "model"))
    var model: String

    @Option(help: ArgumentHelp("Images to calibrate on: a folder of class sub-folders or of images (default: the run's validation split).",
                               valueName: "folder"))
    var calibrate: String?

    @Option(name: .customLong("calibration-images"), parsing: .unconditional,
            help: "How many images to calibrate on (spread evenly over the folder).")
    var calibrationImages = Quantization.defaultImageCount

    @Option(name: .customLong("calibration-method"),
            help: "How activation ranges are chosen: minmax or percentile (99.99th).")
    var calibrationMethod = CalibrationMethod.minmax.rawValue

    @Option(help: ArgumentHelp("The int8 model file (default: MODEL-int8.safetensors beside the model or run folder).",
                               valueName: "file"))
    var out: String?

    func validate() throws {
        if calibrationImages < 1 {
            throw ValidationError("--calibration-images must be at least 1, not \(calibrationImages)")
        }
        if CalibrationMethod(rawValue: calibrationMethod) == nil {
            throw ValidationError("--calibration-method must be \(CalibrationMethod.allCases.map(\.rawValue).joined(separator: " or ")), not '\(calibrationMethod)'")
        }
    }

    func run() throws {
        let modelURL = URL(fileURLWithPath: model)
        let start = Date()
        let quantized = try Quantization.quantize(model: modelURL, calibrate: calibrate.map { URL(fileURLWithPath: $0) },
                                                  count: calibrationImages, method: CalibrationMethod(rawValue: calibrationMethod)!)
        let output = out.map { URL(fileURLWithPath: $0) } ?? Self.defaultOutput(for: modelURL)
        // Replaces only a model file Petal wrote.
        try OutputFile.write(try quantized.encoded(path: output.path), to: output, replacingIf: Self.isPetalModel)
        let seconds = Date().timeIntervalSince(start)
        print("Wrote \(output.path): int8, calibrated on \(quantized.record.calibrationImages) images "
              + "(\(quantized.record.method.rawValue)) in \(String(format: "%.1f", seconds)) s")
    }

    /// MODEL-int8.safetensors (RUN-int8.safetensors for a run folder) beside the model.
    static func defaultOutput(for model: URL) -> URL {
        model.deletingLastPathComponent()
            .appendingPathComponent(model.deletingPathExtension().lastPathComponent + "-int8.safetensors")
    }

    /// A safetensors file with a Petal model description: one `petal train` or `petal quantize` wrote.
    static func isPetalModel(_ url: URL) -> Bool {
        (try? SafetensorsFile.read(url))?.metadata["petal_model"] != nil
    }
}
