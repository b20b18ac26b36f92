import Foundation
import PetalTestSupport
import XCTest

/// The backbone registry drives the command line: unknown names are refused with every
/// registered name, and `petal predict --backbone` finds the installed Lite1 and Lite2 weights.
final class BackboneCommandTests: XCTestCase {
    private static let names = ["mobilenetv2", "efficientnet-lite0", "efficientnet-lite1", "efficientnet-lite2",
                                "efficientnet-lite3", "efficientnet-lite4"]

    func testUnknownBackboneErrorListsEveryRegisteredFamily() throws {
        let work = Fixtures.temporaryDirectory("petal-backbone-cli")
        defer { try? FileManager.default.removeItem(at: work) }
        let train = try PetalProcess.run(["train", work.path, "--out", work.appendingPathComponent("run").path,
                                          "--backbone", "nosuch"])
        XCTAssertEqual(train.status, 64, train.output)
        XCTAssertTrue(train.stderr.contains("--backbone") && train.stderr.contains("nosuch"), train.output)
        for name in Self.names { XCTAssertTrue(train.stderr.contains(name), "\(name) missing: \(train.output)") }
        XCTAssertFalse(FileManager.default.fileExists(atPath: work.appendingPathComponent("run").path))

        let help = try PetalProcess.run(["train", "--help"])
        for name in Self.names { XCTAssertTrue(help.stdout.contains(name), "\(name) missing from help: \(help.output)") }

        let predict = try PetalProcess.run(["predict", "--backbone", "nosuch", "x.jpg"])
        XCTAssertNotEqual(predict.status, 0, predict.output)
        XCTAssertTrue(predict.stderr.contains("nosuch"), predict.output)
        for name in Self.names { XCTAssertTrue(predict.stderr.contains(name), "\(name) missing: \(predict.output)") }
    }

    /// ImageNet top-1 of the installed Lite1 and Lite2 through `petal predict --backbone`:
    /// chelsea.jpg is a cat (tabby 281, tiger cat 282 or Egyptian cat 285), coffee.jpg an
    /// espresso (967) or cup (968).
    func testPredictWithInstalledLite1AndLite2GivesImageNetTop1() throws {
        let weights = ProcessInfo.processInfo.environment["PETAL_HOME"].map { URL(fileURLWithPath: $0).appendingPathComponent("weights") }
            ?? FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/petal/weights")
        let images = Fixtures.url("backbones/images")
        let expected: [String: Set<Int>] = ["chelsea.jpg": [281, 282, 285], "coffee.jpg": [967, 968]]
        var ran = 0
        for (variant, file) in [(1, "efficientnet-lite1-77cc7160.pth"), (2, "efficientnet-lite2-9656183e.pth")] {
            guard FileManager.default.fileExists(atPath: weights.appendingPathComponent(file).path) else {
                print("skipping efficientnet-lite\(variant): \(file) is not installed (run scripts/setup.sh)")
                continue
            }
            ran += 1
            let result = try PetalProcess.run(["predict", "--backbone", "efficientnet-lite\(variant)", "--json", "--top", "3"]
                                              + expected.keys.sorted().map { images.appendingPathComponent($0).path })
            XCTAssertEqual(result.status, 0, result.output)
            let answers = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [[String: Any]],
                                        result.output)
            XCTAssertEqual(answers.count, 2, result.output)
            for answer in answers {
                let path = try XCTUnwrap(answer["path"] as? String)
                let top = try XCTUnwrap(answer["top"] as? [[String: Any]], result.output)
                let best = try XCTUnwrap(top.first?["index"] as? Int, result.output)
                let name = URL(fileURLWithPath: path).lastPathComponent
                XCTAssertTrue(expected[name]!.contains(best), "efficientnet-lite\(variant) on \(name): top-1 \(best)\n\(result.stdout)")
            }
        }
        if ran == 0 { throw XCTSkip("no EfficientNet-Lite1/2 weights installed (run scripts/setup.sh); skipping") }
    }
}
