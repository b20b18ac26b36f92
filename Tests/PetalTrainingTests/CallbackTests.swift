import Foundation
import PetalCore
import PetalTestSupport
import PetalTraining
import XCTest

/// A training context over one weight, the "marker", which the driver sets to the epoch
/// number (1-based) before each epoch ends; its final value tells which epoch's weights
/// EarlyStopping restored. Saving writes the marker to the file (temporary name, renamed).
final class MarkerContext: TrainingContext {
    var learningRate: Double
    var stopTraining = false
    let marker: Parameter
    var messages: [String] = []
    var failSaving = false

    init(learningRate: Double = 0.001) throws {
        self.learningRate = learningRate
        marker = Parameter(name: "marker", value: try Tensor(shape: [1], values: [0]))
    }

    var markerValue: Float { marker.value.floats[0] }
    func setMarker(_ x: Float) { marker.value.floats[0] = x; marker.markUpdated() }

    func snapshotWeights() throws -> WeightsSnapshot { try WeightsSnapshot(capturing: [marker]) }
    func restoreWeights(_ snapshot: WeightsSnapshot) throws { try snapshot.restore(into: [marker]) }
    func saveModel(to url: URL) throws {
        if failSaving { throw CocoaError(.fileWriteNoPermission, userInfo: [NSFilePathErrorKey: url.path]) }
        let temp = url.appendingPathExtension("tmp")
        try Data("\(markerValue)".utf8).write(to: temp)
        guard rename(temp.path, url.path) == 0 else { throw CocoaError(.fileWriteUnknown) }
    }
    func log(_ message: String) { messages.append(message) }
}

/// What a driven run produced, per phase.
struct PhaseOutcome {
    var learningRates: [Double] = []
    var epochsRun: [Int] = []
    var finalMarker: Float = 0
}

/// Drives callbacks as `model.fit` does, over phases that continue the epoch numbering.
func drive(_ list: CallbackList, context: MarkerContext, phases: [(lr: Double, logs: [EpochLogs])],
           startEpoch: Int = 0) throws -> [PhaseOutcome] {
    var epoch = startEpoch
    var outcomes: [PhaseOutcome] = []
    for phase in phases {
        var outcome = PhaseOutcome()
        context.learningRate = phase.lr
        context.stopTraining = false
        try list.onTrainBegin(context: context)
        var last: EpochLogs?
        for logs in phase.logs {
            try list.onEpochBegin(epoch: epoch, context: context)
            context.setMarker(Float(epoch + 1))
            try list.onEpochEnd(epoch: epoch, logs: logs, context: context)
            outcome.learningRates.append(context.learningRate)
            outcome.epochsRun.append(epoch)
            last = logs
            epoch += 1
            if context.stopTraining { break }
        }
        try list.onTrainEnd(logs: last, context: context)
        outcome.finalMarker = context.markerValue
        outcomes.append(outcome)
    }
    return outcomes
}

final class CallbackTests: XCTestCase {
    struct Fixture: Decodable {
        struct Spec: Decodable { let type: String; let args: [String: Arg] }
        struct Phase: Decodable { let initial_learning_rate: Double; let logs: [[String: Double]] }
        struct Expected: Decodable {
            struct PhaseResult: Decodable {
                let learning_rate_after_epoch: [Double]
                let epochs_run: [Int]
                let stopped_epoch: Int?
                let final_weight_marker: Double
            }
            let phases: [PhaseResult]
            let checkpoint_epochs: [Int]
        }
        struct Scenario: Decodable {
            let name: String
            let callbacks: [Spec]
            let phases: [Phase]
            let expected: Expected
        }
        let scenarios: [Scenario]
    }

    enum Arg: Decodable {
        case number(Double), flag(Bool), text(String)
        init(from decoder: Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let b = try? c.decode(Bool.self) { self = .flag(b) }
            else if let x = try? c.decode(Double.self) { self = .number(x) }
            else { self = .text(try c.decode(String.self)) }
        }
    }

    /// Builds a Petal callback from Keras's class name and keyword arguments.
    func makeCallback(_ spec: Fixture.Spec, directory: URL) throws -> Callback {
        func num(_ k: String) -> Double? { if case let .number(x)? = spec.args[k] { return x } else { return nil } }
        func int(_ k: String) -> Int? { num(k).map { Int($0) } }
        func flag(_ k: String) -> Bool? { if case let .flag(x)? = spec.args[k] { return x } else { return nil } }
        func text(_ k: String) -> String? { if case let .text(x)? = spec.args[k] { return x } else { return nil } }
        let mode = MonitorMode(rawValue: text("mode") ?? "auto")!
        switch spec.type {
        case "ReduceLROnPlateau":
            return try ReduceLROnPlateau(monitor: text("monitor") ?? "val_loss", factor: num("factor") ?? 0.1,
                                         patience: int("patience") ?? 10, mode: mode,
                                         minDelta: num("min_delta") ?? 1e-4, cooldown: int("cooldown") ?? 0,
                                         minLR: num("min_lr") ?? 0)
        case "EarlyStopping":
            return try EarlyStopping(monitor: text("monitor") ?? "val_loss", minDelta: num("min_delta") ?? 0,
                                     patience: int("patience") ?? 0, mode: mode, baseline: num("baseline"),
                                     restoreBestWeights: flag("restore_best_weights") ?? false,
                                     startFromEpoch: int("start_from_epoch") ?? 0)
        case "ModelCheckpoint":
            return try ModelCheckpoint(url: directory.appendingPathComponent(text("filepath")!),
                                       monitor: text("monitor") ?? "val_loss",
                                       saveBestOnly: flag("save_best_only") ?? false, mode: mode,
                                       initialValueThreshold: num("initial_value_threshold"))
        default:
            throw CallbackError.invalidArgument(callback: spec.type, message: "not in this test")
        }
    }

    /// Every scenario of Tests/Fixtures/callbacks.json (real Keras callbacks, driven by
    /// scripts/fixtures/make_callback_fixtures.py) gives the same learning rates, the same
    /// stopping epoch, the same restored weights and the same checkpointed epochs.
    func testMatchesKerasCallbacks() throws {
        let fixture = try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: Fixtures.url("callbacks.json")))
        XCTAssertGreaterThanOrEqual(fixture.scenarios.count, 15)
        for scenario in fixture.scenarios {
            let directory = Fixtures.temporaryDirectory("petal-callbacks")
            defer { try? FileManager.default.removeItem(at: directory) }
            let callbacks = try scenario.callbacks.map { try makeCallback($0, directory: directory) }
            let context = try MarkerContext()
            let phases = scenario.phases.map { p in (lr: p.initial_learning_rate, logs: p.logs.map { EpochLogs($0) }) }
            var outcomes: [PhaseOutcome] = []
            var stopped: [Int] = []
            // Run phase by phase to read EarlyStopping's stopped epoch after each.
            var epoch = 0
            let list = CallbackList(callbacks)
            for phase in phases {
                let outcome = try drive(list, context: context, phases: [phase], startEpoch: epoch)[0]
                epoch = (outcome.epochsRun.last ?? epoch - 1) + 1
                outcomes.append(outcome)
                stopped.append(callbacks.compactMap { ($0 as? EarlyStopping)?.state.stoppedEpoch }.first ?? -1)
            }
            let name = scenario.name
            for (k, (got, want)) in zip(outcomes, scenario.expected.phases).enumerated() {
                XCTAssertEqual(got.epochsRun, want.epochs_run, "\(name) phase \(k): epochs run")
                XCTAssertEqual(got.learningRates.count, want.learning_rate_after_epoch.count, name)
                for (e, (a, b)) in zip(got.learningRates, want.learning_rate_after_epoch).enumerated() {
                    // Keras keeps the rate in float32.
                    XCTAssertEqual(a, b, accuracy: 1e-6 * b, "\(name) phase \(k): rate after epoch \(e)")
                }
                XCTAssertEqual(Double(got.finalMarker), want.final_weight_marker, "\(name) phase \(k): weights left")
                if let wantStopped = want.stopped_epoch {
                    XCTAssertEqual(stopped[k], wantStopped, "\(name) phase \(k): stopped epoch")
                }
            }
            let files = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasPrefix("ck-") }
            let savedEpochs = files.compactMap { Int($0.dropFirst(3).prefix(2)) }.map { $0 - 1 }.sorted()
            XCTAssertEqual(savedEpochs, scenario.expected.checkpoint_epochs, "\(name): checkpointed epochs")
            if let checkpoint = callbacks.compactMap({ $0 as? ModelCheckpoint }).first {
                XCTAssertEqual(checkpoint.saved.map(\.epoch), scenario.expected.checkpoint_epochs, name)
            }
        }
    }

    /// The notebook's plateau rule, reasoned by hand: val_accuracy 0.5, 0.6, 0.7, then flat;
    /// patience 3 cuts the rate by 75% at the end of the third flat epoch (epoch 5), and
    /// again three epochs later (no cooldown).
    func testNotebookReduceLROnPlateauByHand() throws {
        let reduce = try ReduceLROnPlateau(monitor: "val_accuracy", factor: 0.25, patience: 3)
        let context = try MarkerContext(learningRate: 0.001)
        let accs = [0.5, 0.6, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7]
        let out = try drive(CallbackList([reduce]), context: context,
                            phases: [(0.001, accs.map { EpochLogs(["val_accuracy": $0]) })])[0]
        XCTAssertEqual(out.learningRates, [0.001, 0.001, 0.001, 0.001, 0.001, 0.00025, 0.00025, 0.00025, 0.0000625])
        XCTAssertEqual(reduce.reductions.map(\.epoch), [5, 8])
        XCTAssertTrue(context.messages.contains("Epoch 6: ReduceLROnPlateau reducing learning rate to 0.00025."))
    }

    func testModeInferenceAndArgumentErrors() throws {
        XCTAssertEqual(Monitor.inferDirection(of: "val_accuracy"), .max)
        XCTAssertEqual(Monitor.inferDirection(of: "val_loss"), .min)
        XCTAssertEqual(Monitor.inferDirection(of: "loss"), .min)
        XCTAssertEqual(Monitor.inferDirection(of: "auc"), .max)
        XCTAssertNil(Monitor.inferDirection(of: "val_wobble"))
        XCTAssertThrowsError(try EarlyStopping(monitor: "val_wobble")) { error in
            XCTAssertEqual(error as? CallbackError, .cannotInferMode(callback: "EarlyStopping", monitor: "val_wobble"))
            XCTAssertTrue("\(error)".contains("val_wobble"))
        }
        XCTAssertNoThrow(try EarlyStopping(monitor: "val_wobble", mode: .max))
        XCTAssertThrowsError(try ReduceLROnPlateau(factor: 1.0))
        XCTAssertThrowsError(try ReduceLROnPlateau(patience: -1))
        // Keras's defaults, spelled out.
        let r = try ReduceLROnPlateau()
        XCTAssertEqual(r.monitor.name, "val_loss"); XCTAssertEqual(r.monitor.direction, .min)
        XCTAssertEqual([r.factor, r.minLR, -r.monitor.signedMinDelta], [0.1, 0, 1e-4])
        XCTAssertEqual([r.patience, r.cooldown], [10, 0])
        let e = try EarlyStopping()
        XCTAssertEqual(e.monitor.name, "val_loss"); XCTAssertEqual(e.monitor.signedMinDelta, 0)
        XCTAssertEqual([e.patience, e.startFromEpoch], [0, 0])
        XCTAssertNil(e.baseline); XCTAssertFalse(e.restoreBestWeights)
    }

    /// A missing monitored metric leaves everything alone and says why.
    func testMissingMetricIsReportedNotFatal() throws {
        let reduce = try ReduceLROnPlateau(monitor: "val_accuracy", patience: 0)
        let context = try MarkerContext(learningRate: 0.01)
        _ = try drive(CallbackList([reduce]), context: context,
                      phases: [(0.01, [EpochLogs(loss: 1, accuracy: 0.5), EpochLogs(loss: 1, accuracy: 0.5)])])
        XCTAssertEqual(context.learningRate, 0.01)
        XCTAssertTrue(context.messages.first?.contains("\"val_accuracy\" is not among the logs") ?? false)
    }

    func testCheckpointFileNameTemplates() throws {
        let dir = Fixtures.temporaryDirectory("petal-ckpt")
        defer { try? FileManager.default.removeItem(at: dir) }
        let checkpoint = try ModelCheckpoint(url: dir.appendingPathComponent("sub/m-{epoch:03d}-{val_accuracy:.3f}{{x}}.petal"),
                                             monitor: "val_accuracy")
        let context = try MarkerContext()
        _ = try drive(CallbackList([checkpoint]), context: context,
                      phases: [(0.001, [EpochLogs(["val_accuracy": 0.81234]), EpochLogs(["val_accuracy": 0.9])])])
        XCTAssertEqual(checkpoint.saved.map(\.url.lastPathComponent), ["m-001-0.812{x}.petal", "m-002-0.900{x}.petal"])
        let written = try String(contentsOf: dir.appendingPathComponent("sub/m-002-0.900{x}.petal"), encoding: .utf8)
        XCTAssertEqual(written, "2.0")
        XCTAssertThrowsError(try ModelCheckpoint(url: dir.appendingPathComponent("m-{epoch:.2f}.petal")))
        XCTAssertThrowsError(try ModelCheckpoint(url: dir.appendingPathComponent("m-{epoch.petal")))
        // A log the epoch does not report fails with the names it does report.
        let missing = try ModelCheckpoint(url: dir.appendingPathComponent("m-{val_auc:.2f}.petal"))
        XCTAssertThrowsError(try drive(CallbackList([missing]), context: context,
                                       phases: [(0.001, [EpochLogs(loss: 1, accuracy: 0.5)])])) { error in
            XCTAssertTrue("\(error)".contains("val_auc") && "\(error)".contains("accuracy, loss"), "\(error)")
        }
        // A failed save stops training with its error.
        context.failSaving = true
        XCTAssertThrowsError(try drive(CallbackList([checkpoint]), context: context,
                                       phases: [(0.001, [EpochLogs(["val_accuracy": 0.95])])]))
    }

    /// The history is on disk after every epoch (JSON and CSV, no temporary files left),
    /// records the rate each epoch ran with, marks where fine-tuning began, and reloads.
    func testHistoryLoggerWritesAfterEveryEpochAndResumes() throws {
        let dir = Fixtures.temporaryDirectory("petal-history")
        defer { try? FileManager.default.removeItem(at: dir) }
        let logger = HistoryLogger(folder: RunFolder(dir))
        let reduce = try ReduceLROnPlateau(monitor: "val_accuracy", factor: 0.5, patience: 1)
        let list = CallbackList([logger, reduce])
        let context = try MarkerContext(learningRate: 0.01)
        try list.onTrainBegin(context: context)
        let logs = [EpochLogs(loss: 1.0, accuracy: 0.5, validationLoss: 0.9, validationAccuracy: 0.6),
                    EpochLogs(loss: 0.8, accuracy: 0.6, validationLoss: 0.95, validationAccuracy: 0.6)]
        for (epoch, l) in logs.enumerated() {
            try list.onEpochBegin(epoch: epoch, context: context)
            try list.onEpochEnd(epoch: epoch, logs: l, context: context)
            let onDisk = try XCTUnwrap(HistoryLogger.load(from: RunFolder(dir)))
            XCTAssertEqual(onDisk.epochs.count, epoch + 1, "history.json after epoch \(epoch + 1)")
        }
        logger.phase = HistoryLogger.fineTuning
        try list.onEpochBegin(epoch: 2, context: context)
        try list.onEpochEnd(epoch: 2, logs: EpochLogs(loss: 0.7, accuracy: 0.7), context: context)

        let history = try XCTUnwrap(HistoryLogger.load(from: RunFolder(dir)))
        XCTAssertEqual(history, logger.history)
        XCTAssertEqual(history.epochs.map(\.epoch), [1, 2, 3])
        XCTAssertEqual(history.epochs.map(\.phase), ["feature-extraction", "feature-extraction", "fine-tuning"])
        // Epoch 2 did not improve val_accuracy: the cut applies from epoch 3.
        XCTAssertEqual(history.epochs.map(\.learningRate), [0.01, 0.01, 0.005])
        XCTAssertEqual(history.fineTuningStartEpoch, 3)
        XCTAssertNil(history.epochs[2].validationLoss)
        XCTAssertTrue(history.epochs.allSatisfy { $0.seconds >= 0 && $0.seconds < 10 })
        let csv = try String(contentsOf: dir.appendingPathComponent("history.csv"), encoding: .utf8)
        let lines = csv.split(separator: "\n")
        XCTAssertEqual(lines.first, "epoch,phase,loss,accuracy,val_loss,val_accuracy,lr,seconds")
        XCTAssertEqual(lines.count, 4)
        XCTAssertTrue(lines[3].hasPrefix("3,fine-tuning,0.7,0.7,,,0.005,"), String(lines[3]))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted(),
                       ["history.csv", "history.json"])

        // Resume: a new logger continues the loaded history; a re-run epoch replaces its record.
        let resumed = HistoryLogger(folder: RunFolder(dir), phase: HistoryLogger.fineTuning, history: history)
        try resumed.onEpochBegin(epoch: 2, context: context)
        try resumed.onEpochEnd(epoch: 2, logs: EpochLogs(loss: 0.6, accuracy: 0.75), context: context)
        let reloaded = try XCTUnwrap(HistoryLogger.load(from: RunFolder(dir)))
        XCTAssertEqual(reloaded.epochs.map(\.epoch), [1, 2, 3])
        XCTAssertEqual(reloaded.epochs[2].loss, 0.6)

        // A file that is not a history is a clear error naming it.
        try Data("{nope".utf8).write(to: dir.appendingPathComponent("history.json"))
        XCTAssertThrowsError(try HistoryLogger.load(from: RunFolder(dir))) { error in
            XCTAssertTrue("\(error)".contains("history.json"), "\(error)")
        }
        XCTAssertNil(try HistoryLogger.load(from: RunFolder(dir.appendingPathComponent("absent"))))
    }

    /// Saved callback state restored after `onTrainBegin` continues exactly as the
    /// uninterrupted run does.
    func testStatesSurviveAResume() throws {
        let accs: [Double] = [0.5, 0.6, 0.6, 0.55, 0.6, 0.6, 0.6, 0.61, 0.6, 0.6, 0.6, 0.6]
        let losses: [Double] = [1.0, 0.9, 0.95, 0.97, 0.96, 0.99, 1.0, 0.98, 1.1, 1.2, 1.3, 1.4]
        let logs = zip(accs, losses).map { EpochLogs(["val_accuracy": $0, "val_loss": $1]) }
        func makeList() throws -> CallbackList {
            CallbackList([try ReduceLROnPlateau(monitor: "val_accuracy", factor: 0.5, patience: 2, cooldown: 1),
                          try EarlyStopping(patience: 6)])
        }
        // Uninterrupted.
        let whole = try drive(try makeList(), context: MarkerContext(), phases: [(0.01, logs)])[0]
        // Interrupted after 5 epochs, state saved, then resumed with fresh objects.
        let firstList = try makeList()
        let context = try MarkerContext()
        let first = try drive(firstList, context: context, phases: [(0.01, Array(logs[..<5]))])[0]
        let saved = try firstList.encodeStates()
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: saved) as? [String: Any])
        XCTAssertEqual(json.keys.sorted(), ["EarlyStopping(val_loss)", "ReduceLROnPlateau(val_accuracy)"])

        let secondList = try makeList()
        context.learningRate = first.learningRates.last!
        context.stopTraining = false
        try secondList.onTrainBegin(context: context)
        try secondList.restoreStates(from: saved)
        var rates = first.learningRates, ran = first.epochsRun
        for epoch in 5..<logs.count {
            try secondList.onEpochBegin(epoch: epoch, context: context)
            try secondList.onEpochEnd(epoch: epoch, logs: logs[epoch], context: context)
            rates.append(context.learningRate); ran.append(epoch)
            if context.stopTraining { break }
        }
        XCTAssertEqual(rates, whole.learningRates)
        XCTAssertEqual(ran, whole.epochsRun)
        XCTAssertLessThan(ran.count, logs.count, "early stopping should trigger in this sequence")
        XCTAssertThrowsError(try secondList.restoreStates(from: Data("[1]".utf8)))
    }
}
