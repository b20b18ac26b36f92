import Foundation
import PetalTestSupport
import XCTest

/// The `petal` command as a user runs it.
final class CommandLineTests: XCTestCase {
    func testHelpListsTheCommands() throws {
        let result = try PetalProcess.run(["--help"])
        XCTAssertEqual(result.status, 0, result.output)
        for command in ["train", "predict", "evaluate", "report", "data", "weights"] {
            XCTAssertTrue(result.stdout.contains(command), "\(command) missing from --help:\n\(result.output)")
        }
    }

    func testAnUnknownCommandIsAUsageError() throws {
        let result = try PetalProcess.run(["frobnicate"])
        XCTAssertEqual(result.status, 64, result.output)
        XCTAssertTrue(result.stderr.contains("frobnicate"), result.output)
    }

    /// A folder where a weights file belongs: exit 1 and a message naming the folder and its files.
    func testAFolderGivenAsWeights() throws {
        let dir = Fixtures.temporaryDirectory("petal-cli-weights")
        defer { try? FileManager.default.removeItem(at: dir) }
        let weights = dir.appendingPathComponent("weights")
        try FileManager.default.createDirectory(at: weights, withIntermediateDirectories: true)
        try Data().write(to: weights.appendingPathComponent("model.pth"))
        let expected = "\(weights.path) is a folder, not a weights file; pass one of its files: model.pth"

        let inspect = try PetalProcess.run(["weights", "inspect", weights.path])
        XCTAssertEqual(inspect.status, 1, inspect.output)
        XCTAssertTrue(inspect.stderr.contains(expected), inspect.output)

        // A tiny dataset (two classes of 2x2 PNGs) so that training gets as far as the weights.
        let png = Data(base64Encoded: "iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAEUlEQVR4nGM4IScHRAxyYBoAHdIEEZoXu9EAAAAASUVORK5CYII=")!
        let data = dir.appendingPathComponent("data")
        for label in ["a", "b"] {
            let folder = data.appendingPathComponent(label)
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            for i in 0..<6 { try png.write(to: folder.appendingPathComponent("\(i).png")) }
        }
        let train = try PetalProcess.run(["train", data.path, "--weights", weights.path, "--image-size", "32",
                                          "--out", dir.appendingPathComponent("run").path])
        XCTAssertEqual(train.status, 1, train.output)
        XCTAssertTrue(train.stderr.contains(expected), train.output)
    }

    /// Out-of-range and negative numbers for `petal serve` are usage errors naming the option,
    /// found before any model is loaded or port opened.
    func testServeRefusesOutOfRangeNumbersAsUsageErrors() throws {
        for (arguments, option) in [(["--port", "-1"], "--port"), (["--port", "70000"], "--port"),
                                    (["--max-batch", "0"], "--max-batch"), (["--max-queue", "-5"], "--max-queue"),
                                    (["--top", "0"], "--top"), (["--max-delay-ms", "nan"], "--max-delay-ms")] {
            let result = try PetalProcess.run(["serve", "no-such-model.safetensors"] + arguments)
            XCTAssertEqual(result.status, 64, result.output)
            XCTAssertTrue(result.stderr.contains(option), result.output)
        }
    }
}
