import Foundation
import PetalTestSupport
import XCTest

/// ResNet-50 and MobileNetV3 reach the command line through the registry alone: help, errors,
/// `petal weights list`, and `petal predict --backbone` with a weights file or a download.
final class NewBackboneCommandTests: XCTestCase {
    private static let names = ["resnet50", "mobilenetv3-large", "mobilenetv3-small"]

    func testHelpListsAndErrorsShowTheNewFamilies() throws {
        let help = try PetalProcess.run(["train", "--help"])
        for name in Self.names { XCTAssertTrue(help.stdout.contains(name), "\(name) missing from help: \(help.output)") }
        // --alpha's values come from the registry (MobileNetV2's), and so does --weights imagenet's list.
        let words = help.stdout.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        XCTAssertTrue(words.contains("width multiplier, mobilenetv2: 0.35, 0.5, 0.75, 1.0, 1.3, 1.4"), help.output)
        XCTAssertTrue(words.contains("'imagenet' (downloaded, for mobilenetv2, resnet50, mobilenetv3-large, mobilenetv3-small)"),
                      help.output)

        let predict = try PetalProcess.run(["predict", "--backbone", "resnet-5O", "x.jpg"])
        XCTAssertNotEqual(predict.status, 0, predict.output)
        for name in Self.names { XCTAssertTrue(predict.stderr.contains(name), "\(name) missing: \(predict.output)") }

        let home = Fixtures.temporaryDirectory("petal-weights-list")
        defer { try? FileManager.default.removeItem(at: home) }
        let list = try PetalProcess.run(["weights", "list"], environment: ["PETAL_HOME": home.path])
        XCTAssertEqual(list.status, 0, list.output)
        for file in ["resnet50-11ad3fa6.pth", "mobilenet_v3_large-5c1a4163.pth", "mobilenet_v3_small-047dcff4.pth"] {
            XCTAssertTrue(list.stdout.contains("https://download.pytorch.org/models/\(file)"), "\(file): \(list.output)")
        }
    }

    /// Offline (here: a refused loopback port), `--weights imagenet` fails at once, naming the
    /// URL and the `--weights FILE` alternative, and leaves no file behind.
    func testImageNetDownloadOfflineFailsAtOnceWithTheAlternative() throws {
        let home = Fixtures.temporaryDirectory("petal-offline")
        defer { try? FileManager.default.removeItem(at: home) }
        let base = "http://127.0.0.1:9/models"
        let start = Date()
        let result = try PetalProcess.run(
            ["predict", "--backbone", "mobilenetv3-small", "--weights", "imagenet",
             Fixtures.url("backbones/images/chelsea.jpg").path],
            environment: ["PETAL_HOME": home.path, "PETAL_TORCHVISION_WEIGHTS_URL": base])
        XCTAssertNotEqual(result.status, 0, result.output)
        XCTAssertTrue(result.stderr.contains("\(base)/mobilenet_v3_small-047dcff4.pth"), result.output)
        XCTAssertTrue(result.stderr.contains("--weights FILE"), result.output)
        XCTAssertLessThan(Date().timeIntervalSince(start), 20)
        let weights = home.appendingPathComponent("weights").path
        XCTAssertEqual((try? FileManager.default.contentsOfDirectory(atPath: weights)) ?? [], [])
    }

    /// `petal predict --backbone resnet50 --weights FILE` with full-size torchvision checkpoints
    /// (random weights, made locally by make_torchvision_fixtures.py --full; ~120 MB, not committed).
    func testPredictWithTorchvisionCheckpoints() throws {
        let directory = ProcessInfo.processInfo.environment["PETAL_TORCHVISION_FULL"].map { URL(fileURLWithPath: $0) }
            ?? FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/petal/torchvision-fixtures")
        var ran = 0
        for (name, file) in [("resnet50", "resnet50.pth"), ("mobilenetv3-large", "mobilenet_v3_large.pth"),
                             ("mobilenetv3-small", "mobilenet_v3_small.pth")] {
            let weights = directory.appendingPathComponent(file)
            guard FileManager.default.fileExists(atPath: weights.path) else {
                print("skipping petal predict --backbone \(name): no \(weights.path) (make_torchvision_fixtures.py --full)")
                continue
            }
            let result = try PetalProcess.run(["predict", "--backbone", name, "--weights", weights.path, "--json", "--top", "3",
                                               Fixtures.url("backbones/images/chelsea.jpg").path])
            XCTAssertEqual(result.status, 0, result.output)
            let json = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [[String: Any]]
            let top = try XCTUnwrap(json?.first?["top"] as? [[String: Any]], result.output)
            XCTAssertEqual(top.count, 3, result.output)
            ran += 1
        }
        if ran == 0 { throw XCTSkip("no full-size torchvision checkpoints in \(directory.path)") }
    }
}
