import Foundation
import PetalCore
import PetalTestSupport
import XCTest

/// `petal quantize` as a user runs it, then `petal predict` and `petal evaluate` on the int8
/// file: same bytes twice, a file Petal did not write left alone, bad options named.
final class QuantizeCommandTests: XCTestCase {
    private var folder: URL!

    override func setUp() { folder = Fixtures.temporaryDirectory("cli-quantize") }
    override func tearDown() { try? FileManager.default.removeItem(at: folder) }

    /// A tiny model over classes a, b, c and a dataset folder with those classes.
    private func modelAndData() throws -> (model: URL, data: URL) {
        let model = try TinyModels.model(in: folder.appendingPathComponent("run"))
        let data = folder.appendingPathComponent("data")
        for (k, name) in ["a", "b", "c"].enumerated() {
            _ = try TinyModels.files(in: data.appendingPathComponent(name), count: 6, seed: UInt64(100 * k + 1))
        }
        return (model, data)
    }

    func testQuantizeThenPredictAndEvaluate() throws {
        let (model, data) = try modelAndData()
        let out = folder.appendingPathComponent("model-int8.safetensors")
        let result = try PetalProcess.run(["quantize", model.path, "--calibrate", data.path, "--out", out.path,
                                           "--calibration-images", "12"])
        XCTAssertEqual(result.status, 0, result.output)
        XCTAssertTrue(result.stdout.contains(out.path) && result.stdout.contains("12 images"), result.output)
        let first = try Data(contentsOf: out)

        // Again over its own earlier output: replaced (Petal wrote it), with the same bytes.
        let again = try PetalProcess.run(["quantize", model.path, "--calibrate", data.path, "--out", out.path,
                                          "--calibration-images", "12"])
        XCTAssertEqual(again.status, 0, again.output)
        XCTAssertEqual(try Data(contentsOf: out), first, "quantizing twice gives the same file")

        let floatSize = try FileManager.default.attributesOfItem(atPath: model.path)[.size] as! Int
        XCTAssertGreaterThan(Double(floatSize) / Double(first.count), 3, "the int8 file is several times smaller")

        let image = data.appendingPathComponent("a").appendingPathComponent("img000.jpg")
        let predict = try PetalProcess.run(["predict", out.path, image.path, "--json"])
        XCTAssertEqual(predict.status, 0, predict.output)
        XCTAssertTrue(predict.stdout.contains("\"class\" : \""), predict.output)

        let evaluate = try PetalProcess.run(["evaluate", out.path, data.path, "--json"])
        XCTAssertEqual(evaluate.status, 0, evaluate.output)
        XCTAssertTrue(evaluate.stdout.contains("\"accuracy\""), evaluate.output)

        let twice = try PetalProcess.run(["quantize", out.path, "--calibrate", data.path,
                                          "--out", folder.appendingPathComponent("x.safetensors").path])
        XCTAssertEqual(twice.status, 1, twice.output)
        XCTAssertTrue(twice.stderr.contains("already an int8 model"), twice.output)
    }

    func testRefusesToReplaceAFileItDidNotWrite() throws {
        let (model, data) = try modelAndData()
        let mine = folder.appendingPathComponent("notes.safetensors")
        try Data("my own notes".utf8).writeAtomically(to: mine)
        let result = try PetalProcess.run(["quantize", model.path, "--calibrate", data.path, "--out", mine.path])
        XCTAssertEqual(result.status, 1, result.output)
        XCTAssertTrue(result.stderr.contains(mine.path) && result.stderr.contains("Petal did not write"), result.output)
        XCTAssertEqual(try Data(contentsOf: mine), Data("my own notes".utf8))
    }

    func testBadOptionsAndInputsAreNamed() throws {
        let (model, data) = try modelAndData()
        let zero = try PetalProcess.run(["quantize", model.path, "--calibrate", data.path, "--calibration-images", "-3"])
        XCTAssertEqual(zero.status, 64, zero.output)
        XCTAssertTrue(zero.stderr.contains("--calibration-images"), zero.output)

        let method = try PetalProcess.run(["quantize", model.path, "--calibrate", data.path, "--calibration-method", "mse"])
        XCTAssertEqual(method.status, 64, method.output)
        XCTAssertTrue(method.stderr.contains("--calibration-method"), method.output)

        let missing = folder.appendingPathComponent("nothing.safetensors")
        let noModel = try PetalProcess.run(["quantize", missing.path, "--calibrate", data.path])
        XCTAssertEqual(noModel.status, 1, noModel.output)
        XCTAssertTrue(noModel.stderr.contains(missing.path), noModel.output)

        let empty = folder.appendingPathComponent("empty")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        let noImages = try PetalProcess.run(["quantize", model.path, "--calibrate", empty.path])
        XCTAssertEqual(noImages.status, 1, noImages.output)
        XCTAssertTrue(noImages.stderr.contains(empty.path) && noImages.stderr.contains("no images"), noImages.output)
    }
}
