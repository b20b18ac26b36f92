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
            let result = try Self.shell(command, in: folder, path: path)
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

    private struct ShellResult {
        var status: Int32
        var stdout: String
        var stderr: String
        var output: String { "exit \(status)\nstdout:\n\(stdout)\nstderr:\n\(stderr)" }
    }

    private static func shell(_ command: String, in folder: URL, path: String) throws -> ShellResult {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", command]
        process.currentDirectoryURL = folder
        process.environment = ProcessInfo.processInfo.environment.merging(["PATH": path]) { $1 }
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.run()
        // Both pipes are read while it runs, so a chatty command cannot fill one and block.
        let group = DispatchGroup()
        nonisolated(unsafe) var errors = Data()
        DispatchQueue.global().async(group: group) { errors = err.fileHandleForReading.readDataToEndOfFile() }
        let output = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        group.wait()
        return ShellResult(status: process.terminationStatus, stdout: String(decoding: output, as: UTF8.self),
                           stderr: String(decoding: errors, as: UTF8.self))
    }
}
