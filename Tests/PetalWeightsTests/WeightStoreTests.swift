import Foundation
import PetalCore
import PetalTestSupport
import PetalWeights
import XCTest

final class WeightStoreTests: XCTestCase {
    func testTakeScopesAndFinish() throws {
        let store = try WeightStore(contentsOf: Fixtures.url("weights/tiny_keras2_top.h5"))
        XCTAssertEqual(store.count, 9)
        let conv = try store.take("Conv1/kernel", shape: [3, 3, 3, 4])
        XCTAssertEqual(conv.shape, [3, 3, 3, 4])
        let bn = store.scoped("bn_")
        for w in ["gamma", "beta", "moving_mean", "moving_variance"] { _ = try bn.take("Conv1/\(w)", shape: [4]) }
        _ = try store.scoped("block_1_").scoped("depthwise/").take("depthwise_kernel", shape: [3, 3, 4, 1])
        _ = try store.take("block_1_project/kernel", shape: [1, 1, 4, 6])
        XCTAssertEqual(store.unused, ["Logits/kernel", "Logits/bias"])
        XCTAssertThrowsError(try store.finish()) { error in
            let message = "\(error)"
            XCTAssertTrue(message.contains("tiny_keras2_top.h5") && message.contains("`Logits/kernel`"), message)
        }
        store.ignore(prefix: "Logits/")
        XCTAssertNoThrow(try store.finish())
    }

    func testMissingAndMismatchedTensorsNameTheFileAndShapes() throws {
        let url = Fixtures.url("weights/tiny_legacy.pth")
        let store = try WeightStore(contentsOf: url)
        XCTAssertThrowsError(try store.take("_conv_stem.weight", shape: [32, 3, 3, 3])) { error in
            XCTAssertEqual(error as? WeightError, .shapeMismatch(name: "_conv_stem.weight", expected: [32, 3, 3, 3], found: [2, 3, 3, 3], source: url.path))
            XCTAssertEqual("\(error)", "\(url.path): tensor `_conv_stem.weight` has shape [2, 3, 3, 3] but the model expects [32, 3, 3, 3]")
        }
        XCTAssertThrowsError(try store.take("_conv_head.weight", shape: [1280, 320, 1, 1])) { error in
            XCTAssertEqual("\(error)", "\(url.path): missing tensor `_conv_head.weight`")
        }
        XCTAssertNil(try store.takeIfPresent("_conv_head.weight", shape: [1]))
        // A scalar (num_batches_tracked) is taken with shape [] or [1].
        XCTAssertEqual(try store.take("_bn0.num_batches_tracked", shape: []).toArray(), [17])
    }

    func testRandomInitStoreIsEmpty() throws {
        let store = WeightStore.randomInit
        XCTAssertTrue(store.isEmpty)
        XCTAssertNil(try store.scoped("Conv1/").takeIfPresent("kernel", shape: [3, 3, 3, 32]))
        XCTAssertNoThrow(try store.finish())
    }

    func testFormatDetectionAndImportToSafetensors() throws {
        let expectations: [(String, WeightFormat)] = [
            ("tiny_keras3_nested.h5", .kerasHDF5), ("tiny_zip.pth", .pytorchZip),
            ("tiny_legacy.pth", .pytorchLegacy), ("python_written.safetensors", .safetensors),
        ]
        let dir = Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        for (file, format) in expectations {
            let url = Fixtures.url("weights/\(file)")
            XCTAssertEqual(try WeightFormat.detect(url), format, file)
            let original = try WeightFile.read(url)
            let out = dir.appendingPathComponent("\(file).safetensors")
            try original.writeSafetensors(to: out)
            let copy = try SafetensorsFile.read(out)
            XCTAssertEqual(copy.names, original.names, file)
            XCTAssertEqual(copy.metadata["source_format"], format.rawValue)
            for name in original.names {
                XCTAssertEqual(copy.tensors[name]?.shape, original.tensors[name]?.shape, name)
                XCTAssertEqual(try copy.tensors[name]?.toArray(), try original.tensors[name]?.toArray(), name)
            }
        }
        let keras = try SafetensorsFile.read(dir.appendingPathComponent("tiny_keras3_nested.h5.safetensors"))
        XCTAssertTrue(keras.metadata["model_config"]?.contains("mobilenetv2_1.00_96") ?? false)
        let text = dir.appendingPathComponent("readme.txt")
        try Data("hello".utf8).write(to: text)
        XCTAssertThrowsError(try WeightFormat.detect(text)) { XCTAssertEqual($0 as? WeightError, .unknownFormat(path: text.path)) }
    }

    func testPetalPathsFollowPetalHome() {
        XCTAssertEqual(PetalPaths.weightsDirectory(environment: ["PETAL_HOME": "/opt/petal", "HOME": "/home/a"]).path, "/opt/petal/weights")
        XCTAssertEqual(PetalPaths.weightsDirectory(environment: ["HOME": "/home/a"]).path, "/home/a/.cache/petal/weights")
        XCTAssertEqual(PetalPaths.kerasModelsDirectory(environment: ["HOME": "/home/a"]).path, "/home/a/.keras/models")
    }
}
