import Foundation
import PetalCore
import PetalModels
import PetalTestSupport
import PetalTraining
import PetalWeights
import XCTest

/// `petal doctor` and the checks behind it (`Diagnostics`, `KnownWeightsFile`, `SHA256`).
final class DoctorTests: XCTestCase {
    func testDoctorReportsVersionsAndChecksTheInstalledWeights() throws {
        let result = try PetalProcess.run(["doctor", "--json"])
        let diagnostics = try PetalJSON.decode(Diagnostics.self, from: Data(result.stdout.utf8))
        XCTAssertEqual(diagnostics.item("Petal")?.value, PetalVersion.string)
        XCTAssertEqual(diagnostics.item("oneDNN")?.value, DNNL.version)
        XCTAssertTrue(diagnostics.item("ISA (oneDNN)")?.value.hasPrefix(DNNL.isa + ":") ?? false, result.output)
        for library in ["libjpeg-turbo", "libpng", "libhdf5"] {
            let value = diagnostics.item(library)?.value ?? ""
            XCTAssertNotNil(value.range(of: #"^\d+\.\d+\.\d+$"#, options: .regularExpression), "\(library): \(value)")
        }
        XCTAssertEqual(diagnostics.item("ImageNet classes")?.status, .ok, result.output)

        // The real weights folder: each known file is either verified or named as missing.
        let folder = PetalPaths.weightsDirectory
        for file in KnownWeightsFile.all {
            let item = try XCTUnwrap(diagnostics.item("weights: \(file.name)"), result.output)
            let present = FileManager.default.fileExists(atPath: folder.appendingPathComponent(file.name).path)
            XCTAssertEqual(item.status, present ? .ok : .missing, result.output)
            if present { XCTAssertTrue(item.value.hasSuffix("sha256 ok"), item.value) }
        }
        XCTAssertEqual(result.status, diagnostics.missing.isEmpty ? 0 : 1, result.output)
    }

    func testMissingOrDamagedWeightsFailWithAClearLine() throws {
        let home = Fixtures.temporaryDirectory("petal-doctor")
        defer { try? FileManager.default.removeItem(at: home) }

        var result = try PetalProcess.run(["doctor"], environment: ["PETAL_HOME": home.path])
        XCTAssertEqual(result.status, 1, result.output)
        XCTAssertTrue(result.stdout.contains("MISSING: \(home.path)/weights does not exist"), result.output)
        XCTAssertTrue(result.stdout.contains("scripts/setup.sh"), result.output)

        // A truncated Lite0 checkpoint, and no MobileNetV2 file.
        let weights = home.appendingPathComponent("weights")
        try FileManager.default.createDirectory(at: weights, withIntermediateDirectories: true)
        try Data(repeating: 7, count: 1000).write(to: weights.appendingPathComponent("efficientnet-lite0-57934424.pth"))
        result = try PetalProcess.run(["doctor"], environment: ["PETAL_HOME": home.path])
        XCTAssertEqual(result.status, 1, result.output)
        let lines = result.stdout.split(separator: "\n")
        XCTAssertTrue(lines.contains { $0.contains("efficientnet-lite0-57934424.pth") && $0.contains("MISSING: 1000 bytes, expected 18826032") },
                      result.output)
        XCTAssertTrue(lines.contains { $0.contains("dog_breed_mobilenetv2.h5") && $0.contains("MISSING: not installed") },
                      result.output)
        // Every registered family's weights are checked, in the registry's order.
        let missing = KnownWeightsFile.all.map { "weights: \($0.name)" }
        XCTAssertTrue(result.stdout.contains("\(missing.count) missing: \(missing.joined(separator: ", "))"), result.output)
    }

    func testAWrongHashIsCaught() throws {
        let folder = Fixtures.temporaryDirectory("petal-doctor-hash")
        defer { try? FileManager.default.removeItem(at: folder) }
        let file = KnownWeightsFile(name: "weights.bin", size: 3, sha256: SHA256.hex(Data("abc".utf8)), package: "test")
        try Data("abc".utf8).write(to: folder.appendingPathComponent("weights.bin"))
        XCTAssertEqual(file.check(in: folder), .ok)
        try Data("abd".utf8).write(to: folder.appendingPathComponent("weights.bin"))
        XCTAssertEqual(file.check(in: folder), .wrongHash(SHA256.hex(Data("abd".utf8))))
        XCTAssertEqual(KnownWeightsFile(name: "absent.bin", size: 3, sha256: "", package: "test").check(in: folder), .missing)
    }

    /// FIPS 180-4's examples, and sha256sum on data that crosses the 64-byte blocks unevenly.
    func testSHA256MatchesTheStandardAndSha256sum() throws {
        XCTAssertEqual(SHA256.hex(Data()), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        XCTAssertEqual(SHA256.hex(Data("abc".utf8)), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(SHA256.hex(Data("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)),
                       "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")

        var generator = SplitMix64(seed: 7)
        let bytes = Data((0..<100_003).map { _ in UInt8(truncatingIfNeeded: generator.next()) })
        let url = Fixtures.temporaryDirectory("petal-sha").appendingPathComponent("data.bin")
        try bytes.write(to: url)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/sha256sum")
        process.arguments = [url.path]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        let expected = String(output.prefix(64))
        XCTAssertEqual(try SHA256.hex(contentsOf: url), expected)
        var pieces = SHA256()
        var offset = 0
        for size in [1, 63, 64, 65, 1000, 4096] + Array(repeating: 9999, count: 20) where offset < bytes.count {
            pieces.update(bytes[offset..<min(offset + size, bytes.count)])
            offset += size
        }
        pieces.update(bytes[min(offset, bytes.count)...])
        XCTAssertEqual(pieces.finalizeHex(), expected)
    }

    /// KnownWeightsFile.all is the doctor's copy of setup.sh's WEIGHTS list: they must agree.
    func testKnownWeightsAgreeWithSetupScript() throws {
        let script = try String(contentsOf: Fixtures.repositoryRoot.appendingPathComponent("scripts/setup.sh"), encoding: .utf8)
        let entries = script.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { $0.hasPrefix("\"") && $0.filter { $0 == "|" }.count == 4 }
            .map { $0.trimmingCharacters(in: CharacterSet(charactersIn: "\"")).split(separator: "|").map(String.init) }
        let fromScript = entries.map {
            KnownWeightsFile(name: URL(fileURLWithPath: $0[2]).lastPathComponent, size: Int($0[3]) ?? -1,
                             sha256: $0[4], package: $0[0])
        }
        XCTAssertEqual(fromScript, KnownWeightsFile.all)
    }

    func testISAFeaturesFollowOneDNNsLevels() {
        func present(_ isa: String) -> [String] { Diagnostics.isaFeatures(isa).filter(\.present).map(\.name) }
        XCTAssertEqual(present("sse41"), [])
        XCTAssertEqual(present("avx2"), ["AVX2"])
        XCTAssertEqual(present("avx512_core"), ["AVX2", "AVX-512"])
        XCTAssertEqual(present("avx512_core_bf16"), ["AVX2", "AVX-512", "bf16"])
        XCTAssertEqual(present("avx512_core_amx"), ["AVX2", "AVX-512", "bf16", "AMX"])
    }
}
