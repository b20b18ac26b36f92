import Foundation
import PetalCore

/// Something that watches training and acts between steps or epochs, like a Keras callback.
///
/// Epochs are 0-based and global across `fit` calls (Keras's `initial_epoch`), so the
/// fine-tuning phase continues the numbering of the feature-extraction phase. Every hook
/// has an empty default; a callback implements only the ones it needs. Hooks throw so an
/// I/O failure (a checkpoint that cannot be written) stops training with its message.
///
/// Like Keras, `onTrainBegin` resets a callback's per-run state (wait counters, best
/// values), once per `fit`; to resume a run, call `CallbackList.restoreStates` after it.
public protocol Callback: AnyObject {
    func onTrainBegin(context: TrainingContext) throws
    /// `logs` are the last epoch's logs, nil when no epoch ran.
    func onTrainEnd(logs: EpochLogs?, context: TrainingContext) throws
    func onEpochBegin(epoch: Int, context: TrainingContext) throws
    /// `logs` hold the epoch's training and validation metrics.
    func onEpochEnd(epoch: Int, logs: EpochLogs, context: TrainingContext) throws
    func onBatchBegin(batch: Int, context: TrainingContext) throws
    /// `logs` hold the running averages over the epoch so far (Keras's batch logs).
    func onBatchEnd(batch: Int, logs: EpochLogs, context: TrainingContext) throws
}

public extension Callback {
    func onTrainBegin(context: TrainingContext) throws {}
    func onTrainEnd(logs: EpochLogs?, context: TrainingContext) throws {}
    func onEpochBegin(epoch: Int, context: TrainingContext) throws {}
    func onEpochEnd(epoch: Int, logs: EpochLogs, context: TrainingContext) throws {}
    func onBatchBegin(batch: Int, context: TrainingContext) throws {}
    func onBatchEnd(batch: Int, logs: EpochLogs, context: TrainingContext) throws {}
}

/// What callbacks may read and change in the running training: Keras's `self.model`,
/// reduced to what the built-in callbacks use. The training loop implements it.
public protocol TrainingContext: AnyObject {
    /// The optimizer's learning rate; a change applies from the next step.
    var learningRate: Double { get set }
    /// Set to true to end training (Keras's `model.stop_training`): after the current batch
    /// when set in a batch hook, after the current epoch when set in an epoch hook.
    var stopTraining: Bool { get set }
    /// A copy of all the model's weights, including non-trainable ones such as batch
    /// normalization's moving statistics (Keras's `model.get_weights()`).
    func snapshotWeights() throws -> WeightsSnapshot
    /// Puts back the weights of an earlier snapshot (Keras's `model.set_weights`).
    func restoreWeights(_ snapshot: WeightsSnapshot) throws
    /// Saves the whole model to `url`, writing a temporary file and renaming it.
    func saveModel(to url: URL) throws
    /// A message for the user (what Keras prints with verbose=1), e.g. a reduced learning rate.
    func log(_ message: String)
}

public extension TrainingContext {
    func log(_ message: String) {}
}

/// Metrics by Keras's names: "loss", "accuracy", "val_loss", "val_accuracy", and any
/// others the loop reports. Callbacks look their monitored quantity up by name.
public struct EpochLogs: Sendable, Equatable, Codable, ExpressibleByDictionaryLiteral {
    public var values: [String: Double]

    public init(_ values: [String: Double] = [:]) { self.values = values }

    public init(dictionaryLiteral elements: (String, Double)...) {
        values = Dictionary(elements, uniquingKeysWith: { _, last in last })
    }

    public init(loss: Double, accuracy: Double, validationLoss: Double? = nil, validationAccuracy: Double? = nil) {
        values = ["loss": loss, "accuracy": accuracy]
        values["val_loss"] = validationLoss
        values["val_accuracy"] = validationAccuracy
    }

    public subscript(name: String) -> Double? {
        get { values[name] }
        set { values[name] = newValue }
    }

    public var loss: Double? { values["loss"] }
    public var accuracy: Double? { values["accuracy"] }
    public var validationLoss: Double? { values["val_loss"] }
    public var validationAccuracy: Double? { values["val_accuracy"] }
}

/// Copies of named weight tensors (in their own layouts), to put back later.
public struct WeightsSnapshot: Sendable {
    public let names: [String]
    public let tensors: [Tensor]

    /// Copies the given tensors (e.g. parameters and batch-norm moving statistics).
    public init(capturing named: [(name: String, tensor: Tensor)]) throws {
        names = named.map(\.name)
        tensors = try named.map { item in
            let copy = try Tensor(layout: item.tensor.layout)
            try copy.assign(item.tensor)
            return copy
        }
    }

    public init(capturing parameters: [Parameter]) throws {
        try self.init(capturing: parameters.map { (name: $0.name, tensor: $0.value) })
    }

    /// The copy of the tensor named `name`.
    public subscript(name: String) -> Tensor? {
        names.firstIndex(of: name).map { tensors[$0] }
    }

    /// Loads each parameter from the tensor of the same name (any layout), marking it
    /// updated; parameters absent from the snapshot are left alone.
    /// - Returns: the names of the parameters restored.
    @discardableResult
    public func restore(into parameters: [Parameter]) throws -> [String] {
        let byName = Dictionary(zip(names, tensors), uniquingKeysWith: { first, _ in first })
        var restored: [String] = []
        for p in parameters {
            guard let saved = byName[p.name] else { continue }
            try p.load(saved)
            restored.append(p.name)
        }
        return restored
    }

    /// Copies each saved tensor back into the tensor of the same name.
    public func restore(into named: [(name: String, tensor: Tensor)]) throws {
        let byName = Dictionary(zip(names, tensors), uniquingKeysWith: { first, _ in first })
        for item in named { if let saved = byName[item.name] { try item.tensor.assign(saved) } }
    }
}

public enum CallbackError: Error, CustomStringConvertible, LocalizedError, Equatable {
    /// mode "auto" and a metric whose direction is not known: say "min" or "max".
    case cannotInferMode(callback: String, monitor: String)
    case invalidArgument(callback: String, message: String)
    /// A checkpoint file name with a placeholder the logs cannot fill.
    case badFileTemplate(template: String, message: String)
    case badState(callback: String, message: String)

    public var description: String {
        switch self {
        case let .cannotInferMode(callback, monitor):
            return "\(callback): cannot tell whether \"\(monitor)\" should go up or down; pass mode .min or .max"
        case let .invalidArgument(callback, message):
            return "\(callback): \(message)"
        case let .badFileTemplate(template, message):
            return "checkpoint file name \"\(template)\": \(message)"
        case let .badState(callback, message):
            return "\(callback): saved state cannot be restored (\(message))"
        }
    }
}

extension CallbackError {
    public var errorDescription: String? { description }
}
