import ArgumentParser
import Foundation
import PetalExport
import PetalInference

/// `petal export`: a trained model as an ONNX file that ONNX Runtime runs with the same answers.
struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write a trained model as an ONNX model.",
        discussion: """
        petal export MODEL --format onnx --out model.onnx
            input 'images': float32 [N, 3, H, W], normalised as the backbone expects (see metadata_props)
        petal export MODEL --format onnx --out model.onnx --with-preprocessing
            input 'images': uint8 [N, H, W, 3] RGB pixels 0-255; normalisation inside the graph
        Output 'probabilities': [N, classes]. The class names, input size and normalisation are in metadata_props.
        """)

    @Argument(help: "A trained model (run folder or .safetensors).") var model: String
    @Option(help: "The format to write (onnx).") var format = "onnx"
    @Option(help: "The file to write (replaces only an ONNX file Petal wrote).") var out: String
    // .unconditional reads "-3" as the value, so the range check below names the option.
    @Option(parsing: .unconditional,
            help: "ONNX opset (\(ONNXExportOptions.supportedOpsets.lowerBound) to \(ONNXExportOptions.supportedOpsets.upperBound)).")
    var opset = ONNXExportOptions.defaultOpset
    @Flag(help: "Take uint8 [N, H, W, 3] pixels (0-255) and normalise inside the graph.") var withPreprocessing = false

    func validate() throws {
        if format.lowercased() != "onnx" { throw ValidationError("--format '\(format)' is not supported; use onnx") }
        if !ONNXExportOptions.supportedOpsets.contains(opset) {
            throw ValidationError(ExportError.unsupportedOpset(opset, supported: ONNXExportOptions.supportedOpsets).description)
        }
    }

    func run() throws {
        let options = ONNXExportOptions(opset: opset, withPreprocessing: withPreprocessing)
        let data: Data
        if let (int8, _) = try ImageClassifier.quantizedModel(contentsOf: URL(fileURLWithPath: model)) {
            data = try QDQExporter(model: int8, options: options).export()  // `petal quantize`'s files: QDQ
        } else {
            let (classifier, _) = try ImageClassifier.model(contentsOf: URL(fileURLWithPath: model))
            data = try ONNXExporter(classifier: classifier, options: options).export()
        }
        let url = URL(fileURLWithPath: out)
        try OutputFile.write(data, to: url, replacingIf: ONNXExporter.isWrittenByPetal)
        print("Wrote \(url.path) (ONNX opset \(opset), \(data.count / 1024) KiB)")
    }
}
