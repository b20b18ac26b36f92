import Foundation
import PetalCore
import PetalTestSupport
import PetalWeights
import XCTest

final class SafetensorsTests: XCTestCase {
    func testRoundTripKeepsOrderShapesValuesAndMetadata() throws {
        let dir = Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("model.safetensors")
        let a = try Tensor(shape: [2, 3], values: [1, -2, 3.5, 4, 5, 6e-8])
        let b = try Tensor(shape: [3, 3, 1, 2], values: (0..<18).map { Float($0) * 0.5 - 3 })
        let c = try Tensor(shape: [1], values: [42])
        let metadata = ["petal": "{\"architecture\": \"mobilenet_v2\", \"classes\": [\"daisy\", \"rose\"]}", "quote\"key": "line\nbreak"]
        try SafetensorsFile.write([("z.first", a), ("a.second", b), ("m", c)], metadata: metadata, to: url)

        let data = try Data(contentsOf: url)
        let headerLength = data.prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
        XCTAssertEqual((8 + Int(headerLength)) % 8, 0, "data must start 8-byte aligned")
        XCTAssertEqual(data.count, 8 + Int(headerLength) + (6 + 18 + 1) * 4)

        let file = try SafetensorsFile.read(url)
        XCTAssertEqual(file.names, ["z.first", "a.second", "m"])
        XCTAssertEqual(file.metadata, metadata)
        XCTAssertEqual(file.tensors["z.first"]?.shape, [2, 3])
        XCTAssertEqual(try file.tensors["z.first"]?.toArray(), try a.toArray())
        XCTAssertEqual(file.tensors["a.second"]?.shape, [3, 3, 1, 2])
        XCTAssertEqual(try file.tensors["a.second"]?.toArray(), try b.toArray())
        XCTAssertEqual(try file.tensors["m"]?.toArray(), [42])
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: dir.path)
        XCTAssertEqual(leftovers, ["model.safetensors"], "no temporary file left behind")
    }

    func testReadsFileWrittenByPython() throws {
        let url = Fixtures.url("weights/python_written.safetensors")
        let file = try SafetensorsFile.read(url)
        let expected = Expectations.fixtures["python_written.safetensors"]!
        XCTAssertEqual(Set(file.names), Set(expected.keys))
        XCTAssertEqual(file.names.first, "layer.weight")
        XCTAssertEqual(file.metadata["format"], "pt")
        XCTAssertEqual(file.metadata["petal"], "{\"architecture\": \"test\"}")
        for (name, summary) in expected { Expectations.check(file.tensors[name], summary, name) }
    }

    func testTruncatedAndGarbageFilesGiveClearErrors() throws {
        let dir = Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let good = try Data(contentsOf: Fixtures.url("weights/python_written.safetensors"))
        let truncated = dir.appendingPathComponent("truncated.safetensors")
        try good.prefix(good.count - 10).write(to: truncated)
        XCTAssertThrowsError(try SafetensorsFile.read(truncated)) { error in
            let message = "\(error)"
            XCTAssertTrue(message.contains("truncated.safetensors"), message)
            XCTAssertTrue(message.contains("outside"), message)
        }
        let garbage = dir.appendingPathComponent("garbage.safetensors")
        try Data("hello, this is not a tensor file at all".utf8).write(to: garbage)
        XCTAssertThrowsError(try SafetensorsFile.read(garbage)) { error in
            XCTAssertTrue("\(error)".contains("garbage.safetensors"), "\(error)")
        }
        XCTAssertThrowsError(try SafetensorsFile.read(dir.appendingPathComponent("absent.safetensors"))) { error in
            XCTAssertEqual(error as? WeightError, .fileNotFound(path: dir.appendingPathComponent("absent.safetensors").path))
        }
    }

    func testDuplicateNamesAreRefused() throws {
        let t = try Tensor(shape: [1], values: [1])
        let url = Fixtures.temporaryDirectory().appendingPathComponent("dup.safetensors")
        XCTAssertThrowsError(try SafetensorsFile.write([("x", t), ("x", t)], to: url))
        XCTAssertFalse(FileManager.default.fileExists(atPath: url.path))
    }
}
