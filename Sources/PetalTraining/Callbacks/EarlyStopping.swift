import Foundation

/// Stops training when a metric stops improving: Keras 3's `EarlyStopping`, with its
/// defaults and exact logic.
///
/// At each epoch end from `startFromEpoch` on, with the monitored value `current`:
/// - with `restoreBestWeights`, the first such epoch's weights are kept as "best" at once;
/// - `wait` grows by one; an improvement on `best` (see `Monitor`) records it (and its
///   weights) and resets `wait` to 0, unless a `baseline` is set and not beaten;
/// - otherwise, once `wait >= patience` and the epoch is not the first (epoch > 0),
///   training stops and `stoppedEpoch` is set.
///
/// At train end, with `restoreBestWeights`, the best epoch's weights are put back. Keras 3
/// does this whenever best weights were recorded, whether or not training stopped early
/// (Keras 2 did it only when stopped); Petal follows Keras 3.
///
/// The notebook uses `EarlyStopping(patience: 5)` on "val_loss".
public final class EarlyStopping: ResumableCallback {
    public let monitor: Monitor
    public let patience: Int
    public let baseline: Double?
    public let restoreBestWeights: Bool
    public let startFromEpoch: Int

    /// What survives a resume (the best weights do not: save them with a best-only
    /// `ModelCheckpoint`); reset at the start of every `fit`.
    public struct State: Codable, Equatable, Sendable {
        public var best: Double?
        public var wait = 0
        /// 0 until training is stopped (as Keras: stopping at epoch 0 cannot happen).
        public var stoppedEpoch = 0
        public var bestEpoch = 0
        public init(best: Double? = nil, wait: Int = 0, stoppedEpoch: Int = 0, bestEpoch: Int = 0) {
            self.best = best; self.wait = wait; self.stoppedEpoch = stoppedEpoch; self.bestEpoch = bestEpoch
        }
    }
    public var state = State()
    /// The weights of the best epoch, kept only with `restoreBestWeights`.
    public private(set) var bestWeights: WeightsSnapshot?

    /// 0-based epoch at which training was stopped, nil if it was not.
    public var stoppedEpoch: Int? { state.stoppedEpoch > 0 ? state.stoppedEpoch : nil }
    /// 0-based epoch of the best monitored value.
    public var bestEpoch: Int { state.bestEpoch }

    public init(monitor: String = "val_loss", minDelta: Double = 0, patience: Int = 0,
                mode: MonitorMode = .auto, baseline: Double? = nil, restoreBestWeights: Bool = false,
                startFromEpoch: Int = 0) throws(CallbackError) {
        guard patience >= 0 else {
            throw .invalidArgument(callback: "EarlyStopping", message: "patience must be >= 0, got \(patience)")
        }
        self.monitor = try Monitor(monitor, mode: mode, minDelta: minDelta, callback: "EarlyStopping")
        self.patience = patience; self.baseline = baseline
        self.restoreBestWeights = restoreBestWeights; self.startFromEpoch = startFromEpoch
    }

    public func onTrainBegin(context: TrainingContext) throws {
        state = State()
        bestWeights = nil
    }

    public func onEpochEnd(epoch: Int, logs: EpochLogs, context: TrainingContext) throws {
        guard let current = logs[monitor.name] else {
            context.log("EarlyStopping: \"\(monitor.name)\" is not among the logs "
                        + "(\(logs.values.keys.sorted().joined(separator: ", ")))")
            return
        }
        guard epoch >= startFromEpoch else { return }
        if restoreBestWeights && bestWeights == nil {
            // Until something better comes, the current weights are the best.
            bestWeights = try context.snapshotWeights()
            state.bestEpoch = epoch
        }
        state.wait += 1
        if monitor.isImprovement(current, over: state.best) {
            state.best = current
            state.bestEpoch = epoch
            if restoreBestWeights { bestWeights = try context.snapshotWeights() }
            // Only restart the wait when both the baseline and the previous best are beaten.
            if baseline == nil || monitor.isImprovement(current, over: baseline) {
                state.wait = 0
            }
            return
        }
        if state.wait >= patience && epoch > 0 {
            state.stoppedEpoch = epoch
            context.stopTraining = true
        }
    }

    public func onTrainEnd(logs: EpochLogs?, context: TrainingContext) throws {
        if let stopped = stoppedEpoch { context.log("Epoch \(stopped + 1): early stopping") }
        if restoreBestWeights, let bestWeights {
            context.log("Restoring model weights from the end of the best epoch: \(state.bestEpoch + 1).")
            try context.restoreWeights(bestWeights)
        }
    }

    public var stateKey: String { "EarlyStopping(\(monitor.name))" }
    public func encodeState() throws -> Data { try StateCoding.encoder.encode(state) }
    public func decodeState(_ data: Data) throws {
        state = try StateCoding.decode(State.self, data, callback: stateKey)
    }
}
