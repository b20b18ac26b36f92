import Foundation
import PetalTestSupport
import PetalWeights
import XCTest

/// The README's quick start, run as written: every command of its `sh` block, in order, through
/// a shell (the block uses a glob) with the built `petal` first on PATH, in a new folder where
/// `examples/` is the repository's. A new user on a fresh clone runs exactly this.
final class QuickStartTests: XCTestCase {
    /// The commands of the first `sh` block under "## Quick start", without their comments.
    static func readmeQuickStart() throws -> [String] {
        let readme = try String(contentsOf: Fixtures.repositoryRoot.appendingPathComponent("README.md"), encoding: .utf8)
        guard let section = readme.range(of: "\n## Quick start\n"),
              let open = readme.range(of: "```sh\n", range: section.upperBound..<readme.endIndex),
              let close = readme.range(of: "\n```", range: open.upperBound..<readme.endIndex) else {
            throw XCTSkip("README.md has no ```sh block under ## Quick start")
        }
        return readme[open.upperBound..<close.lowerBound].split(separator: "\n").compactMap { line in
            let command = (line.range(of: "  #").map { line[..<$0.lowerBound] } ?? line[...])
                .trimmingCharacters(in: .whitespaces)
            return command.isEmpty || command.hasPrefix("#") ? nil : command
        }
    }

    func testReadmeQuickStartRunsAsWritten() throws {
        let commands = try Self.readmeQuickStart()
        XCTAssertEqual(commands.map { $0.split(separator: " ").prefix(2).joined(separator: " ") },
                       ["petal --version", "petal data", "petal train", "petal evaluate", "petal report", "petal predict", "petal predict"],
                       "the quick start's steps changed: update this test's checks too")
        guard PetalPaths.installedWeights(named: "efficientnet-lite0-57934424.pth") != nil else {
            throw XCTSkip("the quick start needs the pretrained EfficientNet-Lite0 weights: run scripts/setup.sh --weights-only")
        }

        let folder = Fixtures.temporaryDirectory("petal-quickstart")
        defer { try? FileManager.default.removeItem(at: folder) }
        try FileManager.default.createSymbolicLink(at: folder.appendingPathComponent("examples"),
                                                   withDestinationURL: Fixtures.repositoryRoot.appendingPathComponent("examples"))
        let path = PetalProcess.executable.deletingLastPathComponent().path + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")
        var outputs: [String] = []
        for command in commands {
            let start = Date()
            let result = try PetalProcess.run(executable: URL(fileURLWithPath: "/bin/sh"), ["-c", command],
                                              in: folder, environment: ["PATH": path])
            print(String(format: "quick start: %.0f s  %@", Date().timeIntervalSince(start), command))
            XCTAssertEqual(result.status, 0, "\(command)\n\(result.output)")
            guard result.status == 0 else { return }
            outputs.append(result.stdout)
        }

        // The run folder the README names holds a model and a report, and the model learned.
        let trainCommand = commands[2]
        let runName = try XCTUnwrap(trainCommand.range(of: #"--out \S+"#, options: .regularExpression)
            .map { String(trainCommand[$0].dropFirst(6)) }, "the quick start must name its run folder (--out)")
        let run = folder.appendingPathComponent(runName)
        for file in ["model.safetensors", "report.html", "metrics.json", "history.json"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: run.appendingPathComponent(file).path), "\(runName)/\(file) missing")
        }
        let metrics = try JSONSerialization.jsonObject(with: Data(contentsOf: run.appendingPathComponent("metrics.json"))) as? [String: Any]
        let accuracy = try XCTUnwrap(metrics?["accuracy"] as? Double)
        XCTAssertGreaterThan(accuracy, 0.6, "five classes: chance is 0.2, the README states what this reaches")
        // The numbers the README states, in the test log.
        print(outputs[2].split(separator: "\n").suffix(5).joined(separator: "\n") + "\n" + outputs[5])
        XCTAssertTrue(outputs[1].contains("300 images in 5 classes"), outputs[1])
        for phase in ["feature-extraction", "fine-tuning"] {
            XCTAssertTrue(outputs[2].contains("\(phase): test accuracy"), "both phases must run:\n\(outputs[2])")
        }
        XCTAssertTrue(outputs[3].contains("accuracy"), outputs[3])
        XCTAssertTrue(outputs[4].contains("\(runName)/report.html"), outputs[4])
        for photo in ["cat", "daisy", "dandelion", "rose", "sunflower", "tulip"] {
            XCTAssertTrue(outputs[5].contains("examples/photos/\(photo).jpg"), outputs[5])
        }
        XCTAssertTrue(outputs[6].contains("Egyptian cat"), outputs[6])
    }
}
