import Foundation
import PetalCore
import PetalExport
import PetalLayers
import PetalModels
import PetalTestSupport
import XCTest

/// `petal export` of an int8 model (`petal quantize`) writes QDQ ONNX: s8 weights with
/// per-channel scales, Quantize/Dequantize pairs at Petal's activation scales; ONNX Runtime
/// agrees with Petal's int8 model on at least 99% of top-1 classes (scripts/check_onnx.py --int8,
/// where python3 has onnx and onnxruntime; skipped visibly otherwise).
final class QDQExportTests: XCTestCase {
    private var folder: URL!

    override func setUp() { folder = Fixtures.temporaryDirectory("qdq-export") }
    override func tearDown() { try? FileManager.default.removeItem(at: folder) }

    /// A tiny float model with a decisive head, quantized with the CLI on generated pictures.
    private func int8Model(_ architecture: Architecture, inputSize: Int) throws -> (model: URL, pictures: URL) {
        let float = try TinyModels.model(in: folder.appendingPathComponent("\(architecture)".replacingOccurrences(of: " ", with: "_")),
                                         inputSize: inputSize, architecture: architecture) { model in
            let dense = model.network.layer(named: "predictions") as! Dense
            let w = try! dense.weight.value.toArray().map { $0 * 8 }
            try! dense.weight.load(Tensor(shape: dense.weight.shape, values: w))
        }
        let pictures = folder.appendingPathComponent("pictures")
        if !FileManager.default.fileExists(atPath: pictures.path) { _ = try TinyModels.files(in: pictures, count: 40, seed: 3) }
        let int8 = float.deletingLastPathComponent().appendingPathComponent("int8.safetensors")
        let result = try PetalProcess.run(["quantize", float.path, "--calibrate", pictures.path, "--out", int8.path])
        XCTAssertEqual(result.status, 0, result.output)
        return (int8, pictures)
    }

    func testQDQGraphHasInt8WeightsAndQuantizePairs() throws {
        let (model, _) = try int8Model(.mobileNetV2(alpha: 0.35), inputSize: 32)
        let out = folder.appendingPathComponent("int8.onnx")
        let result = try PetalProcess.run(["export", model.path, "--format", "onnx", "--out", out.path])
        XCTAssertEqual(result.status, 0, result.output)
        let onnx = try ONNXExporter.read(out)
        let ops = onnx.graph.node.map(\.opType)
        XCTAssertGreaterThan(ops.filter { $0 == "QuantizeLinear" }.count, 10, "\(Set(ops))")
        XCTAssertGreaterThan(ops.filter { $0 == "DequantizeLinear" }.count, 20, "\(Set(ops))")
        XCTAssertFalse(ops.contains("BatchNormalization"))
        let int8Weights = onnx.graph.initializer.filter { $0.name.hasSuffix(".weight_int8") }
        XCTAssertFalse(int8Weights.isEmpty)
        XCTAssertTrue(int8Weights.allSatisfy { $0.dataType == 3 }, "int8 initializers (TensorProto.INT8)")
        XCTAssertTrue(onnx.metadataProps.contains { $0.key == "backbone" && $0.value.hasSuffix("int8") })
    }

    func testONNXRuntimeAgreesWithPetalsInt8Model() throws {
        let probe = try PetalProcess.run(executable: URL(fileURLWithPath: "/usr/bin/env"),
                                         ["python3", "-c", "import onnx, onnxruntime, numpy, PIL"])
        guard probe.status == 0 else {
            let message = "SKIPPED: QDQ agreement: python3 lacks onnx/onnxruntime/numpy/Pillow (run .ci/install-onnxruntime.sh)"
            print(message)
            throw XCTSkip(message)
        }
        let script = Fixtures.repositoryRoot.appendingPathComponent("scripts/check_onnx.py")
        for (architecture, size) in [(Architecture.mobileNetV2(alpha: 0.35), 32), (.efficientNetLite(0), 40)] {
            let (model, pictures) = try int8Model(architecture, inputSize: size)
            let result = try PetalProcess.run(executable: URL(fileURLWithPath: "/usr/bin/env"),
                                              ["python3", script.path, "--int8", "--petal", PetalProcess.executable.path,
                                               model.path, pictures.path])
            print(result.stdout)
            XCTAssertEqual(result.status, 0, "\(architecture)\n\(result.output)")
        }
    }
}
