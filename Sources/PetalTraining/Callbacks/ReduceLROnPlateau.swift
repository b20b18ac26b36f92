import Foundation

/// Cuts the learning rate when a metric stops improving: Keras's `ReduceLROnPlateau`, with
/// its defaults and exact logic.
///
/// At each epoch end, with the monitored value `current`:
/// - in cooldown (`cooldownCounter > 0`): the counter drops by one and `wait` resets to 0;
/// - an improvement on `best` (see `Monitor`) sets `best` and resets `wait`;
/// - otherwise, outside cooldown, `wait` grows; at `patience` the rate becomes
///   `max(lr * factor, minLR)` if `lr > minLR`, and then cooldown starts and `wait` resets.
///
/// The notebook's schedule is `ReduceLROnPlateau(monitor: "val_accuracy", factor: 0.25,
/// patience: 3)`: a quarter of the rate after three epochs without a better accuracy.
public final class ReduceLROnPlateau: ResumableCallback {
    public let monitor: Monitor
    public let factor: Double
    public let patience: Int
    public let cooldown: Int
    public let minLR: Double

    /// What survives a resume; reset at the start of every `fit`.
    public struct State: Codable, Equatable, Sendable {
        public var best: Double?
        public var wait = 0
        public var cooldownCounter = 0
        public init(best: Double? = nil, wait: Int = 0, cooldownCounter: Int = 0) {
            self.best = best; self.wait = wait; self.cooldownCounter = cooldownCounter
        }
    }
    public var state = State()
    /// 0-based epochs at whose end the rate was cut, with the new rate.
    public private(set) var reductions: [(epoch: Int, learningRate: Double)] = []

    /// - Throws: `CallbackError` for factor >= 1 (as Keras), negative patience or cooldown,
    ///   or mode `.auto` with a metric whose direction is unknown.
    public init(monitor: String = "val_loss", factor: Double = 0.1, patience: Int = 10,
                mode: MonitorMode = .auto, minDelta: Double = 1e-4, cooldown: Int = 0,
                minLR: Double = 0) throws(CallbackError) {
        let name = "ReduceLROnPlateau"
        guard factor < 1 else {
            throw .invalidArgument(callback: name, message: "factor must be < 1, got \(factor)")
        }
        guard patience >= 0, cooldown >= 0 else {
            throw .invalidArgument(callback: name, message: "patience and cooldown must be >= 0")
        }
        self.monitor = try Monitor(monitor, mode: mode, minDelta: minDelta, callback: name)
        self.factor = factor; self.patience = patience; self.cooldown = cooldown; self.minLR = minLR
    }

    public var inCooldown: Bool { state.cooldownCounter > 0 }

    public func onTrainBegin(context: TrainingContext) throws {
        state = State()
    }

    public func onEpochEnd(epoch: Int, logs: EpochLogs, context: TrainingContext) throws {
        guard let current = logs[monitor.name] else {
            context.log("ReduceLROnPlateau: \"\(monitor.name)\" is not among the logs "
                        + "(\(logs.values.keys.sorted().joined(separator: ", "))); learning rate left alone")
            return
        }
        if inCooldown {
            state.cooldownCounter -= 1
            state.wait = 0
        }
        if monitor.isImprovement(current, over: state.best) {
            state.best = current
            state.wait = 0
        } else if !inCooldown {
            state.wait += 1
            if state.wait >= patience {
                let old = context.learningRate
                if old > minLR {
                    let new = max(old * factor, minLR)
                    context.learningRate = new
                    reductions.append((epoch, new))
                    context.log("Epoch \(epoch + 1): ReduceLROnPlateau reducing learning rate to \(new).")
                    state.cooldownCounter = cooldown
                    state.wait = 0
                }
            }
        }
    }

    public var stateKey: String { "ReduceLROnPlateau(\(monitor.name))" }
    public func encodeState() throws -> Data { try StateCoding.encoder.encode(state) }
    public func decodeState(_ data: Data) throws {
        state = try StateCoding.decode(State.self, data, callback: stateKey)
    }
}
