import Foundation
import PetalCore

/// Whether the monitored quantity should go down ("min"), up ("max"), or be inferred
/// from its name ("auto"), as Keras's `mode` argument.
public enum MonitorMode: String, Sendable, Codable, CaseIterable {
    case auto, min, max
}

/// A monitored metric and how to judge an improvement: Keras's `MonitorCallback`.
///
/// An improvement is `current - minDelta < best` in min mode and `current - minDelta > best`
/// in max mode, with Keras's sign convention: `minDelta` is stored as |minDelta|, negated
/// for min mode. The first value always improves on "no best yet". NaN never improves
/// on a number.
public struct Monitor: Sendable, Equatable, Codable {
    public let name: String
    /// The resolved direction: `.min` or `.max`, never `.auto`.
    public let direction: MonitorMode
    /// |minDelta|, negated for min mode (Keras's stored `min_delta`).
    public let signedMinDelta: Double

    /// Resolves `mode` as Keras does: "auto" strips a "val_" prefix and takes "loss" as min,
    /// metrics known to go up (accuracy, AUC, precision, recall, F1) as max, other losses
    /// and errors as min; anything else throws, asking for an explicit mode.
    public init(_ name: String, mode: MonitorMode, minDelta: Double, callback: String) throws(CallbackError) {
        self.name = name
        var resolved = mode
        if mode == .auto {
            guard let inferred = Monitor.inferDirection(of: name) else {
                throw .cannotInferMode(callback: callback, monitor: name)
            }
            resolved = inferred
        }
        direction = resolved
        signedMinDelta = resolved == .min ? -abs(minDelta) : abs(minDelta)
    }

    /// The direction Keras infers for a metric name, nil if it cannot.
    public static func inferDirection(of monitor: String) -> MonitorMode? {
        let metric = monitor.hasPrefix("val_") ? String(monitor.dropFirst(4)) : monitor
        if metric == "loss" { return .min }
        // The names Keras's built-in metrics report, by their `_direction`.
        let up: Set<String> = ["accuracy", "acc", "binary_accuracy", "categorical_accuracy",
                               "sparse_categorical_accuracy", "top_k_categorical_accuracy",
                               "sparse_top_k_categorical_accuracy", "auc", "precision", "recall",
                               "f1_score", "fbeta_score"]
        let down: Set<String> = ["mean_squared_error", "mse", "mean_absolute_error", "mae",
                                 "categorical_crossentropy", "sparse_categorical_crossentropy",
                                 "binary_crossentropy", "root_mean_squared_error"]
        if up.contains(metric) { return .max }
        if down.contains(metric) { return .min }
        return nil
    }

    /// Keras's `_is_improvement(current, reference)`. Like Keras (whose `ops.less` turns
    /// the Python floats into float32 tensors), the comparison is made in Float32, so
    /// 0.5 + 1e-9 is no improvement on 0.5.
    public func isImprovement(_ current: Double, over reference: Double?) -> Bool {
        guard let reference else { return true }
        let shifted = Float(current - signedMinDelta), best = Float(reference)
        return direction == .min ? shifted < best : shifted > best
    }
}

/// Runs a list of callbacks in order, as Keras's `CallbackList`, and saves or restores
/// the state of those that can resume.
public final class CallbackList {
    public private(set) var callbacks: [Callback]

    public init(_ callbacks: [Callback] = []) { self.callbacks = callbacks }

    public func append(_ callback: Callback) { callbacks.append(callback) }

    public func onTrainBegin(context: TrainingContext) throws {
        for c in callbacks { try c.onTrainBegin(context: context) }
    }
    public func onTrainEnd(logs: EpochLogs?, context: TrainingContext) throws {
        for c in callbacks { try c.onTrainEnd(logs: logs, context: context) }
    }
    public func onEpochBegin(epoch: Int, context: TrainingContext) throws {
        for c in callbacks { try c.onEpochBegin(epoch: epoch, context: context) }
    }
    public func onEpochEnd(epoch: Int, logs: EpochLogs, context: TrainingContext) throws {
        for c in callbacks { try c.onEpochEnd(epoch: epoch, logs: logs, context: context) }
    }
    public func onBatchBegin(batch: Int, context: TrainingContext) throws {
        for c in callbacks { try c.onBatchBegin(batch: batch, context: context) }
    }
    public func onBatchEnd(batch: Int, logs: EpochLogs, context: TrainingContext) throws {
        for c in callbacks { try c.onBatchEnd(batch: batch, logs: logs, context: context) }
    }

    /// Keys for the resumable callbacks, made unique by a "#2", "#3" suffix for repeats.
    private func keyedResumables() -> [(String, ResumableCallback)] {
        var seen: [String: Int] = [:]
        return callbacks.compactMap { $0 as? ResumableCallback }.map { c in
            let n = (seen[c.stateKey] ?? 0) + 1
            seen[c.stateKey] = n
            return (n == 1 ? c.stateKey : "\(c.stateKey)#\(n)", c)
        }
    }

    /// The state of every resumable callback as one JSON object, keyed by `stateKey`.
    public func encodeStates() throws -> Data {
        var object: [String: Any] = [:]
        for (key, c) in keyedResumables() {
            object[key] = try JSONSerialization.jsonObject(with: c.encodeState())
        }
        return try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .prettyPrinted])
    }

    /// Restores states saved by `encodeStates`; callbacks without a saved state keep theirs.
    /// Call after `onTrainBegin`, which resets them.
    public func restoreStates(from data: Data) throws {
        guard let object = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw CallbackError.badState(callback: "callbacks", message: "not a JSON object")
        }
        for (key, c) in keyedResumables() {
            guard let saved = object[key] else { continue }
            try c.decodeState(JSONSerialization.data(withJSONObject: saved))
        }
    }
}

/// A callback whose counters can be saved with a checkpoint and restored on resume.
public protocol ResumableCallback: Callback {
    /// Identifies the callback in a saved state, e.g. "ReduceLROnPlateau(val_accuracy)".
    var stateKey: String { get }
    func encodeState() throws -> Data
    func decodeState(_ data: Data) throws
}

/// Callback states in Petal's one JSON form (`PetalJSON`: non-finite values as strings).
enum StateCoding {
    static var encoder: JSONEncoder { PetalJSON.encoder() }

    static func decode<T: Decodable>(_ type: T.Type, _ data: Data, callback: String) throws -> T {
        do { return try PetalJSON.decode(type, from: data) } catch {
            throw CallbackError.badState(callback: callback, message: "\(error)")
        }
    }
}
