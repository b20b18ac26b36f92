import Foundation
import XCTest
import PetalCore
import PetalWeights
@testable import PetalTraining
import PetalTestSupport

/// The bad-input catalogue of run folders: each case is refused with its own error and leaves
/// every file as it was (hashed before and after).
final class RunFolderTests: XCTestCase {
    private let quiet = ProgressReporter(style: .quiet)

    private func config(_ data: URL) -> TransferLearningConfig {
        var config = TransferLearningConfig(data: data.path)
        config.weights = "none"
        config.imageSize = 32
        config.batchSize = 4
        config.epochsFeatureExtraction = 1
        config.epochsFineTuning = 0
        config.trainFraction = 0.5
        config.validationFraction = 0.25
        config.testFraction = 0.25
        return config
    }

    /// A folder with the user's own files, named as a run's are.
    private func userFolder() throws -> URL {
        let folder = Fixtures.temporaryDirectory("petal-user")
        for name in ["config.json", "model.safetensors", "report.html", "metrics.json"] {
            try Data("the user's own \(name)".utf8).write(to: folder.appendingPathComponent(name))
        }
        return folder
    }

    /// A Petal run folder in the given phase, made from its files (no training).
    private func madeRun(phase: String) throws -> URL {
        let folder = Fixtures.temporaryDirectory("petal-made-run")
        let run = RunFolder(folder)
        var state = RunState()
        state.phase = phase
        state.nextEpoch = 2
        try run.write(state, to: .state)
        try run.write(config(folder), to: .config)
        try Data("weights".utf8).write(to: run.url(.model))
        return folder
    }

    private func assertUnchanged(_ folder: URL, _ before: FolderSnapshot, file: StaticString = #filePath, line: UInt = #line) throws {
        XCTAssertEqual(try FolderSnapshot(folder), before, file: file, line: line)
    }

    /// `attempt` throws `expected` (whose message mentions `text`) and leaves `folder` as it was.
    private func assertRefused<T>(_ attempt: @autoclosure () throws -> T, with expected: RunFolderError, leaves folder: URL,
                                  mentioning text: String = "", file: StaticString = #filePath, line: UInt = #line) throws {
        let before = try FolderSnapshot(folder)
        XCTAssertThrowsError(try attempt(), file: file, line: line) {
            XCTAssertEqual($0 as? RunFolderError, expected, file: file, line: line)
            XCTAssertTrue(text.isEmpty || "\($0)".contains(text), "\($0)", file: file, line: line)
        }
        try assertUnchanged(folder, before, file: file, line: line)
    }

    func testOutOnAFolderOfTheUsersFilesIsRefused() throws {
        let folder = try userFolder()
        try assertRefused(try TransferLearningRun(config: config(folder), folder: folder, progress: quiet),
                          with: .notEmpty(path: folder.path, files: ["config.json", "metrics.json", "model.safetensors", "report.html"]),
                          leaves: folder, mentioning: "not a Petal run")
    }

    /// A split.json left in a folder that is not a run no longer overrides the data: the folder is refused.
    func testAStaleSplitInOutIsRefused() throws {
        let folder = Fixtures.temporaryDirectory("petal-stale-split")
        try Data(#"{"root": "/elsewhere", "classNames": []}"#.utf8).write(to: folder.appendingPathComponent("split.json"))
        try assertRefused(try TransferLearningRun(config: config(folder), folder: folder, progress: quiet),
                          with: .notEmpty(path: folder.path, files: ["split.json"]), leaves: folder)
    }

    func testOutOnAFileIsRefused() throws {
        let file = Fixtures.temporaryDirectory("petal-out-file").appendingPathComponent("notes.txt")
        try Data("notes".utf8).write(to: file)
        XCTAssertThrowsError(try TransferLearningRun(config: config(file), folder: file, progress: quiet)) {
            XCTAssertEqual($0 as? RunFolderError, .notADirectory(path: file.path))
        }
        XCTAssertEqual(try Data(contentsOf: file), Data("notes".utf8))
    }

    func testOutOnAFinishedRunIsRefusedWithAHint() throws {
        let folder = try madeRun(phase: RunState.done)
        try assertRefused(try TransferLearningRun(config: config(folder), folder: folder, progress: quiet),
                          with: .holdsFinishedRun(path: folder.path), leaves: folder, mentioning: "choose another --out")
    }

    func testOutOnAnUnfinishedRunIsRefusedUnlessResumed() throws {
        let folder = try madeRun(phase: RunState.fineTuning)
        try assertRefused(try TransferLearningRun(config: config(folder), folder: folder, progress: quiet),
                          with: .holdsUnfinishedRun(path: folder.path), leaves: folder, mentioning: "--resume \(folder.path)")
    }

    func testResumingAFinishedRunChangesNothing() throws {
        let folder = try madeRun(phase: RunState.done)
        try assertRefused(try TransferLearningRun(resuming: folder, progress: quiet),
                          with: .finished(path: folder.path), leaves: folder)
    }

    func testResumingAFolderThatIsNotARunIsRefused() throws {
        let folder = try userFolder()
        try assertRefused(try TransferLearningRun(resuming: folder, progress: quiet),
                          with: .notARun(path: folder.path), leaves: folder)
    }

    func testABrokenStateIsNamedAndNothingIsWritten() throws {
        let folder = try madeRun(phase: RunState.fineTuning)
        try Data("{\"phase\": 3}".utf8).write(to: RunFolder(folder).url(.state))
        for attempt in [{ try TransferLearningRun(resuming: folder, progress: self.quiet) },
                        { try TransferLearningRun(config: self.config(folder), folder: folder, progress: self.quiet) }] {
            let before = try FolderSnapshot(folder)
            XCTAssertThrowsError(try attempt()) {
                guard case .invalidFile(let path, _)? = $0 as? RunFolderError else { return XCTFail("\($0)") }
                XCTAssertEqual(path, RunFolder(folder).url(.state).path)
            }
            try assertUnchanged(folder, before)
        }
    }

    /// While one process holds a run's lock, another can neither resume it nor start a run there.
    func testALockedRunIsInUse() throws {
        let folder = try madeRun(phase: RunState.featureExtraction)
        do {
            let lock = try RunFolder(folder).lock()
            let before = try FolderSnapshot(folder)
            for attempt in [{ try TransferLearningRun(resuming: folder, progress: self.quiet) },
                            { try TransferLearningRun(config: self.config(folder), folder: folder, progress: self.quiet) }] {
                XCTAssertThrowsError(try attempt()) {
                    XCTAssertEqual($0 as? RunFolderError, .inUse(path: folder.path, owner: "petal process \(getpid())"))
                }
            }
            try assertUnchanged(folder, before)
            withExtendedLifetime(lock) {}
        }
        // Released: the next process may take it.
        XCTAssertNoThrow(try RunFolder(folder).lock())
    }

    /// Two new runs set up for the same folder at once: the first to finish its set-up gets
    /// the folder, the other fails and leaves the first's files alone.
    func testTwoNewRunsForTheSameFolderDoNotMix() throws {
        let parent = Fixtures.temporaryDirectory("petal-race")
        let destination = parent.appendingPathComponent("run")
        let first = try RunFolder.stage(for: destination)
        let second = try RunFolder.stage(for: destination)
        try first.folder.write(Data("first".utf8), to: .config)
        try second.folder.write(Data("second".utf8), to: .config)
        let run = try first.commit()
        let before = try FolderSnapshot(destination)
        XCTAssertThrowsError(try second.commit()) {
            XCTAssertEqual($0 as? RunFolderError, .appeared(path: destination.path))
        }
        try assertUnchanged(destination, before)
        XCTAssertEqual(try Data(contentsOf: run.url(.config)), Data("first".utf8))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: parent.path), ["run"])
    }

    /// Bad data fails before the run folder exists: nothing is left, not even the parent
    /// folders made for it.
    func testAFailedStartLeavesNoRunFolder() throws {
        let parent = Fixtures.temporaryDirectory("petal-failed-start")
        let emptyData = parent.appendingPathComponent("data")
        try FileManager.default.createDirectory(at: emptyData, withIntermediateDirectories: true)
        let destination = parent.appendingPathComponent("runs/today/run")
        let run = try TransferLearningRun(config: config(emptyData), folder: destination, progress: quiet)
        XCTAssertThrowsError(try run.execute()) { XCTAssertTrue("\($0)".contains(emptyData.path), "\($0)") }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: parent.path), ["data"])
    }

    /// A bad option found only once the model exists (--fine-tune-at) also leaves nothing behind.
    func testABadFineTuneAtLeavesNoRunFolder() throws {
        let data = try TinyDataset.make(perClass: 4)
        let parent = Fixtures.temporaryDirectory("petal-bad-option")
        let destination = parent.appendingPathComponent("run")
        var settings = config(data)
        settings.fineTuneAt = "no_such_layer"
        let run = try TransferLearningRun(config: settings, folder: destination, progress: quiet)
        XCTAssertThrowsError(try run.execute()) { XCTAssertTrue("\($0)".contains("no_such_layer"), "\($0)") }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: parent.path), [])
    }

    /// A real (tiny) run into an empty folder; once finished, neither --resume nor a new run
    /// there changes a byte of it.
    func testAFinishedRunIsLeftAsItIs() throws {
        let data = try TinyDataset.make(perClass: 4)
        let folder = Fixtures.temporaryDirectory("petal-finished")
        let outcome = try TransferLearningRun(config: config(data), folder: folder, progress: quiet).execute()
        XCTAssertFalse(outcome.interrupted)
        XCTAssertEqual(outcome.folder, folder.standardizedFileURL)
        let run = RunFolder(folder)
        XCTAssertTrue(try RunFolder.existingRun(folder).state.isFinished)
        for file in [RunFolder.File.config, .state, .split, .history, .historyCSV, .model, .bestModel] {
            XCTAssertTrue(run.contains(file), "\(file)")
        }
        XCTAssertFalse(run.contains(.lastModel))
        try assertRefused(try TransferLearningRun(resuming: folder, progress: quiet),
                          with: .finished(path: folder.standardizedFileURL.path), leaves: folder)
        try assertRefused(try TransferLearningRun(config: config(data), folder: folder, progress: quiet),
                          with: .holdsFinishedRun(path: folder.path), leaves: folder)
    }

    /// A diverged phase (NaN loss) still saves its state, and it reads back.
    func testNonFiniteResultsSaveAndReadBack() throws {
        let run = RunFolder(Fixtures.temporaryDirectory("petal-nan"))
        var state = RunState()
        state.phases = [PhaseResult(name: RunState.featureExtraction, epochs: 1, seconds: 1, imagesPerSecond: 1,
                                    bestValidationAccuracy: nil, testLoss: .nan, testAccuracy: .infinity)]
        try run.write(state, to: .state)
        let read = try run.read(RunState.self, from: .state)
        XCTAssertTrue(read.phases[0].testLoss.isNaN)
        XCTAssertEqual(read.phases[0].testAccuracy, .infinity)
        // Sorted keys: the same state always gives the same bytes.
        let text = String(decoding: try Data(contentsOf: run.url(.state)), as: UTF8.self)
        XCTAssertLessThan(text.range(of: "\"nextEpoch\"")!.lowerBound, text.range(of: "\"phase\"")!.lowerBound)
    }
}
