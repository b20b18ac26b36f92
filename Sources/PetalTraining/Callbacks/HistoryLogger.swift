import Foundation

/// Records every epoch (Keras's `History` plus `CSVLogger`) and writes `history.json` and
/// `history.csv` into the run folder after each epoch (atomically, see `RunFolder`), so an
/// interrupted run keeps the history of every finished epoch.
///
/// The record's learning rate is the one in force when the epoch began (a reduction at
/// its end applies to the next epoch); its time runs from epoch begin to epoch end.
/// Set `phase` when training switches to fine-tuning: the first fine-tuning epoch becomes
/// `history.fineTuningStartEpoch`.
public final class HistoryLogger: Callback {
    public static let featureExtraction = "feature-extraction"
    public static let fineTuning = "fine-tuning"

    public let folder: RunFolder
    /// The phase name written into each record ("feature-extraction" or "fine-tuning").
    public var phase: String
    public private(set) var history: TrainingHistory

    private var epochStart: ContinuousClock.Instant?
    private var epochLearningRate: Double?

    /// - Parameter history: the history so far, when resuming (see `load(from:)`).
    public init(folder: RunFolder, phase: String = HistoryLogger.featureExtraction,
                history: TrainingHistory = TrainingHistory()) {
        self.folder = folder; self.phase = phase; self.history = history
    }

    public func onEpochBegin(epoch: Int, context: TrainingContext) throws {
        epochStart = .now
        epochLearningRate = context.learningRate
    }

    public func onEpochEnd(epoch: Int, logs: EpochLogs, context: TrainingContext) throws {
        let seconds = epochStart.map { start in
            let d = ContinuousClock.now - start
            return Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
        } ?? 0
        let record = EpochRecord(epoch: epoch + 1, phase: phase, loss: logs.loss ?? .nan,
                                 accuracy: logs.accuracy ?? .nan, validationLoss: logs.validationLoss,
                                 validationAccuracy: logs.validationAccuracy,
                                 learningRate: epochLearningRate ?? context.learningRate, seconds: seconds)
        append(record)
        epochStart = nil
        epochLearningRate = nil
        try write()
    }

    /// Adds a record, replacing any of the same or a later epoch (epochs re-run after a
    /// resume from an earlier checkpoint).
    public func append(_ record: EpochRecord) {
        history.epochs.removeAll { $0.epoch >= record.epoch }
        history.epochs.append(record)
        if record.phase == HistoryLogger.fineTuning, history.fineTuningStartEpoch.map({ $0 > record.epoch }) ?? true {
            history.fineTuningStartEpoch = record.epoch
        }
    }

    /// Writes both files now.
    public func write() throws(RunFolderError) {
        try folder.write(history, to: .history)
        try folder.write(Data(HistoryLogger.csv(history).utf8), to: .historyCSV)
    }

    /// The history in the folder's `history.json`, nil if there is none yet.
    public static func load(from folder: RunFolder) throws(RunFolderError) -> TrainingHistory? {
        try folder.readIfPresent(TrainingHistory.self, from: .history)
    }

    /// CSV with Keras's CSVLogger column names: a header, then one line per epoch; a
    /// missing validation value is an empty field.
    public static func csv(_ history: TrainingHistory) -> String {
        var lines = ["epoch,phase,loss,accuracy,val_loss,val_accuracy,lr,seconds"]
        func number(_ x: Double?) -> String { x.map { String($0) } ?? "" }
        for r in history.epochs {
            lines.append([String(r.epoch), r.phase, number(r.loss), number(r.accuracy),
                          number(r.validationLoss), number(r.validationAccuracy),
                          number(r.learningRate), String(format: "%.3f", r.seconds)].joined(separator: ","))
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
