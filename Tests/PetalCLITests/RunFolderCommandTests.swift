import Foundation
import XCTest
import PetalTestSupport

/// What a user's test found: commands that replaced or mixed files they should not have.
/// Each case now ends with `petal <command>: <message>` on standard error, a non-zero exit
/// status, and every file as it was (hashed before and after).
final class RunFolderCommandTests: XCTestCase {
    private var scratch: URL!

    override func setUpWithError() throws { scratch = Fixtures.temporaryDirectory("petal-cli-runs") }
    override func tearDownWithError() throws { if let scratch { try? FileManager.default.removeItem(at: scratch) } }

    /// A folder with the user's own files, named as a run's are.
    private func userFolder(_ name: String) throws -> URL {
        let folder = scratch.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        for file in ["config.json", "model.safetensors", "report.html", "metrics.json"] {
            try Data("the user's own \(file)".utf8).write(to: folder.appendingPathComponent(file))
        }
        return folder
    }

    /// A run folder as `petal train` leaves it, in the given phase (made from its files).
    private func madeRun(_ name: String, phase: String) throws -> URL {
        let folder = scratch.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let state = #"{"nextEpoch": 2, "phase": "\#(phase)", "phases": []}"#
        try Data(state.utf8).write(to: folder.appendingPathComponent("state.json"))
        try Data(#"{"data": "/nowhere"}"#.utf8).write(to: folder.appendingPathComponent("config.json"))
        try Data("trained weights".utf8).write(to: folder.appendingPathComponent("model.safetensors"))
        return folder
    }

    /// Runs petal, expects a one-line error from `command` with `status`, and that `folder` is unchanged.
    @discardableResult
    private func assertRefused(_ arguments: [String], command: String, status: Int32 = 1, leaves folder: URL,
                               mentioning text: String, file: StaticString = #filePath, line: UInt = #line) throws -> String {
        let before = try FolderSnapshot(folder)
        let result = try PetalProcess.run(arguments, in: scratch)
        XCTAssertEqual(result.status, status, result.output, file: file, line: line)
        XCTAssertTrue(result.stderr.hasPrefix("petal \(command): "), result.output, file: file, line: line)
        XCTAssertEqual(result.stderr.filter { $0 == "\n" }.count, 1, "one line: \(result.output)", file: file, line: line)
        XCTAssertTrue(result.stderr.contains(text), result.output, file: file, line: line)
        XCTAssertEqual(try FolderSnapshot(folder), before, file: file, line: line)
        return result.stderr
    }

    func testResumingAFinishedRunChangesNothing() throws {
        let run = try madeRun("finished", phase: "done")
        try assertRefused(["train", "--resume", run.path], command: "train", leaves: run, mentioning: "finished run")
    }

    func testOutOnAFolderOfTheUsersFilesIsRefused() throws {
        let folder = try userFolder("mine")
        try assertRefused(["train", scratch.path, "--out", folder.path], command: "train", leaves: folder,
                          mentioning: "not a Petal run")
    }

    func testAStaleSplitInOutIsRefused() throws {
        let folder = scratch.appendingPathComponent("old")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try Data(#"{"root": "/elsewhere"}"#.utf8).write(to: folder.appendingPathComponent("split.json"))
        try assertRefused(["train", scratch.path, "--out", folder.path], command: "train", leaves: folder,
                          mentioning: "split.json")
    }

    func testOutOnAFinishedRunIsRefusedWithAHint() throws {
        let run = try madeRun("done", phase: "done")
        try assertRefused(["train", scratch.path, "--out", run.path], command: "train", leaves: run,
                          mentioning: "choose another --out")
    }

    func testOutOnAnUnfinishedRunPointsToResume() throws {
        let run = try madeRun("halfway", phase: "fine-tuning")
        try assertRefused(["train", scratch.path, "--out", run.path], command: "train", leaves: run,
                          mentioning: "--resume \(run.path)")
    }

    /// While another process trains in a run (holds its lock), resuming it is refused.
    func testALockedRunIsInUse() throws {
        let run = try madeRun("busy", phase: "feature-extraction")
        let descriptor = open(run.appendingPathComponent(".petal.lock").path, O_RDWR | O_CREAT, 0o644)
        XCTAssertGreaterThanOrEqual(descriptor, 0)
        defer { close(descriptor) }
        XCTAssertEqual(flock(descriptor, LOCK_EX | LOCK_NB), 0)
        try assertRefused(["train", "--resume", run.path], command: "train", leaves: run, mentioning: "in use")
    }

    /// Bad data: the run fails before its folder exists, and leaves nothing behind.
    func testBadDataLeavesNoRunFolder() throws {
        let data = scratch.appendingPathComponent("empty-data")
        try FileManager.default.createDirectory(at: data, withIntermediateDirectories: true)
        try assertRefused(["train", data.path, "--weights", "none", "--out", scratch.appendingPathComponent("runs/new").path],
                          command: "train", leaves: scratch, mentioning: data.path)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: scratch.path), ["empty-data"])
    }

    func testAReportOfADatasetFolderWritesNothing() throws {
        let dataset = try userFolder("dataset")
        try assertRefused(["report", dataset.path], command: "report", leaves: dataset, mentioning: "not a Petal run folder")
    }

    func testReportOutputDoesNotReplaceTheUsersFile() throws {
        let run = try madeRun("reported", phase: "done")
        let page = try userFolder("pages").appendingPathComponent("report.html")
        try assertRefused(["report", run.path, "--output", page.path], command: "report",
                          leaves: page.deletingLastPathComponent(), mentioning: page.path)
        // A page Petal wrote may be replaced.
        let ours = scratch.appendingPathComponent("ours.html")
        for _ in 0..<2 {
            let result = try PetalProcess.run(["report", run.path, "--output", ours.path])
            XCTAssertEqual(result.status, 0, result.output)
        }
    }

    func testWeightsImportDoesNotReplaceAFile() throws {
        let folder = try userFolder("weights")
        let output = folder.appendingPathComponent("model.safetensors")
        try assertRefused(["weights", "import", Fixtures.url("layers.safetensors").path, "--out", output.path],
                          command: "weights import", leaves: folder, mentioning: output.path)
    }

    func testEvaluateOutputDoesNotReplaceTheUsersFile() throws {
        let predictions = scratch.appendingPathComponent("predictions.json")
        let records = [(0, [0.9, 0.1]), (1, [0.2, 0.8]), (1, [0.6, 0.4])].enumerated().map { i, record in
            #"{"path": "\#(i).jpg", "trueLabel": \#(record.0), "predictedLabel": \#(record.1[0] > 0.5 ? 0 : 1), "probabilities": \#(record.1)}"#
        }
        try Data(#"{"classNames": ["cat", "dog"], "predictions": [\#(records.joined(separator: ", "))]}"#.utf8).write(to: predictions)
        let folder = try userFolder("results")
        let output = folder.appendingPathComponent("metrics.json")
        try assertRefused(["evaluate", "--predictions", predictions.path, "--output", output.path], command: "evaluate",
                          leaves: folder, mentioning: output.path)
        // Metrics Petal wrote may be replaced.
        let ours = scratch.appendingPathComponent("ours.json")
        for _ in 0..<2 {
            let result = try PetalProcess.run(["evaluate", "--predictions", predictions.path, "--output", ours.path])
            XCTAssertEqual(result.status, 0, result.output)
        }
    }

    // MARK: - The error convention and --version

    func testUsageErrorsExit64WithTheCommandsName() throws {
        let result = try PetalProcess.run(["train", "--batch-size", "0", scratch.path])
        XCTAssertEqual(result.status, 64, result.output)
        XCTAssertEqual(result.stderr, "petal train: --batch-size is 0; it must be between 1 and 4096\n")
    }

    func testRuntimeErrorsExit1WithTheErrorsDescription() throws {
        let missing = scratch.appendingPathComponent("missing.h5").path
        let result = try PetalProcess.run(["weights", "inspect", missing])
        XCTAssertEqual(result.status, 1, result.output)
        XCTAssertTrue(result.stderr.hasPrefix("petal weights inspect: "), result.output)
        XCTAssertTrue(result.stderr.contains(missing), result.output)
        XCTAssertFalse(result.stderr.contains("WeightError"), "a Swift dump: \(result.output)")
    }

    func testVersionNamesOneDNNAndItsISA() throws {
        let result = try PetalProcess.run(["--version"])
        XCTAssertEqual(result.status, 0, result.output)
        let line = result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        XCTAssertNotNil(line.range(of: #"^petal \d+\.\d+\.\d+ \(oneDNN \d+\.\d+\.\d+, ISA [a-z0-9_]+\)$"#,
                                   options: .regularExpression), line)
    }
}
