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
}
