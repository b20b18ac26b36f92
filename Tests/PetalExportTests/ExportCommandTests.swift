import Foundation
import PetalCore
import PetalExport
import PetalTestSupport
import XCTest

/// `petal export` as a user runs it: the file it writes, the options it refuses, the files it leaves alone.
final class ExportCommandTests: XCTestCase {
    private var folder: URL!

    override func setUp() { folder = Fixtures.temporaryDirectory("cli-export") }
    override func tearDown() { try? FileManager.default.removeItem(at: folder) }

    func testExportWritesAnONNXModelFromARunFolder() throws {
        let run = folder.appendingPathComponent("run")
        _ = try ExportModels.model(in: run)
        let out = folder.appendingPathComponent("flowers.onnx")
        let result = try PetalProcess.run(["export", run.path, "--format", "onnx", "--out", out.path, "--opset", "13"])
        XCTAssertEqual(result.status, 0, result.output)
        XCTAssertTrue(result.stdout.contains(out.path), result.output)
        let model = try ONNXExporter.read(out)
        XCTAssertEqual(model.producerName, "petal")
        XCTAssertEqual(model.opsetImport.first?.version, 13)
    }

    func testAFileThatPetalDidNotWriteIsNeverReplaced() throws {
        let (model, _) = try ExportModels.model(in: folder)
        let out = folder.appendingPathComponent("model.onnx")
        let theirs = Data("someone else's model".utf8)
        try theirs.writeAtomically(to: out)
        let refused = try PetalProcess.run(["export", model.path, "--format", "onnx", "--out", out.path])
        XCTAssertEqual(refused.status, 1, refused.output)
        XCTAssertTrue(refused.stderr.contains(out.path) && refused.stderr.contains("Petal did not write it"), refused.output)
        XCTAssertEqual(try Data(contentsOf: out), theirs)

        // Petal's own export is replaced by the next one.
        let mine = folder.appendingPathComponent("mine.onnx")
        for preprocessing in [false, true] {
            let result = try PetalProcess.run(["export", model.path, "--format", "onnx", "--out", mine.path]
                                              + (preprocessing ? ["--with-preprocessing"] : []))
            XCTAssertEqual(result.status, 0, result.output)
        }
        XCTAssertEqual(try ONNXExporter.read(mine).graph.input[0].type.tensorType.elemType,
                       Int32(Onnx_TensorProto.DataType.uint8.rawValue))
    }

    func testBadOptionsAreUsageErrorsNamingTheOption() throws {
        let (model, _) = try ExportModels.model(in: folder)
        let out = folder.appendingPathComponent("model.onnx").path
        let cases: [([String], String)] = [
            (["--opset", "12"], "--opset 12"),
            (["--opset", "-3"], "--opset -3"),
            (["--opset", "99"], "--opset 99"),
            (["--format", "tflite"], "--format 'tflite'"),
        ]
        for (options, message) in cases {
            let result = try PetalProcess.run(["export", model.path, "--out", out] + options)
            XCTAssertEqual(result.status, 64, result.output)
            XCTAssertTrue(result.stderr.contains(message), "\(options): \(result.output)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: out))
        let missing = try PetalProcess.run(["export", folder.appendingPathComponent("nothing").path, "--out", out])
        XCTAssertEqual(missing.status, 1, missing.output)
        XCTAssertTrue(missing.stderr.contains("nothing"), missing.output)
    }
}
