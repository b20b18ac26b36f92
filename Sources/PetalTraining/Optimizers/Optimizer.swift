import Foundation
import PetalCore

/// Updates parameters from their gradients, with Keras 3's semantics and defaults.
///
/// `step` updates every trainable parameter that has a gradient, elementwise over the raw
/// storage of `value` and `gradient` (which share one layout, blocked or not), then marks
/// it updated. Optimizer state (Keras's "slots": velocities, momentums) is created lazily
/// per parameter, zero-filled in the parameter's layout; because every update maps a zero
/// gradient on zero state to zero, the padding of blocked layouts stays zero.
///
/// The learning rate may be changed between steps (callbacks do it between epochs).
public protocol Optimizer: AnyObject {
    /// The step size; read at every step, so a change applies from the next step.
    var learningRate: Double { get set }
    /// Steps taken so far (Keras's `optimizer.iterations`); Adam's bias correction uses it.
    var iterations: Int { get }
    /// Options shared by all optimizers: decoupled weight decay and gradient clipping.
    var options: OptimizerOptions { get set }
    /// Keras's name for the optimizer ("rmsprop", "adam", "sgd").
    var name: String { get }

    /// One update of every trainable parameter whose `gradient` is non-nil.
    func step(_ parameters: [Parameter]) throws
    /// Forgets all state (slots and step count), as a freshly made optimizer.
    func reset()

    /// A copy of the optimizer's state for a checkpoint (see `OptimizerState`).
    func exportState(for parameters: [Parameter]) throws -> OptimizerState
    /// Restores state exported earlier for parameters of the same names and shapes.
    func importState(_ state: OptimizerState, for parameters: [Parameter]) throws(OptimizerError)
}

/// Options every Keras optimizer accepts (`weight_decay`, `clipnorm`, `global_clipnorm`).
public struct OptimizerOptions: Sendable, Equatable, Codable {
    /// Decoupled weight decay, applied before the update as Keras 3 does:
    /// `w -= w * weightDecay * learningRate`. Nil (the default) disables it.
    public var weightDecay: Double?
    /// Parameters whose name contains any of these strings get no weight decay
    /// (Keras's `exclude_from_weight_decay(var_names:)`), e.g. ["bias", "gamma", "beta"].
    public var excludeFromWeightDecay: [String]
    /// Clips each parameter's gradient to this L2 norm (Keras's `clipnorm`).
    public var clipNorm: Double?
    /// Clips all gradients together to this global L2 norm (Keras's `global_clipnorm`).
    public var globalClipNorm: Double?

    /// Values are checked by `OptimizerSpec.makeOptimizer()`. Set directly with both clip
    /// norms, only `clipNorm` applies (Keras refuses that combination).
    public init(weightDecay: Double? = nil, excludeFromWeightDecay: [String] = [],
                clipNorm: Double? = nil, globalClipNorm: Double? = nil) {
        self.weightDecay = weightDecay
        self.excludeFromWeightDecay = excludeFromWeightDecay
        self.clipNorm = clipNorm
        self.globalClipNorm = globalClipNorm
    }

    public static let none = OptimizerOptions()
}

/// An optimizer's state, layout-independent: slot tensors in row-major order keyed
/// "parameterName/slotName", plus the step count and learning rate. The training loop
/// writes it beside a checkpoint (e.g. as safetensors) so a resumed run continues exactly.
public struct OptimizerState: Sendable {
    public var optimizer: String
    public var iterations: Int
    public var learningRate: Double
    public var slots: [String: Tensor]

    public init(optimizer: String, iterations: Int, learningRate: Double, slots: [String: Tensor]) {
        self.optimizer = optimizer; self.iterations = iterations
        self.learningRate = learningRate; self.slots = slots
    }
}

public enum OptimizerError: Error, CustomStringConvertible, Equatable {
    case wrongOptimizer(expected: String, found: String)
    case missingSlot(String)
    case slotShapeMismatch(String, expected: [Int], found: [Int])
    /// A bad optimizer setting (from `OptimizerSpec`), e.g. a negative learning rate.
    case invalidOption(String)
    /// A slot that cannot be copied into the parameter's layout (e.g. out of memory).
    case slotUnreadable(String, reason: String)

    public var description: String {
        switch self {
        case let .wrongOptimizer(expected, found):
            return "optimizer state: saved by \(found), cannot restore into \(expected)"
        case let .missingSlot(key):
            return "optimizer state: no slot \"\(key)\" in the saved state"
        case let .slotShapeMismatch(key, expected, found):
            return "optimizer state: slot \"\(key)\" has shape \(found), the parameter has \(expected)"
        case let .invalidOption(message):
            return "optimizer: \(message)"
        case let .slotUnreadable(key, reason):
            return "optimizer state: slot \"\(key)\" cannot be restored: \(reason)"
        }
    }
}

/// An optimizer whose state is its slot tensors and step count: reset, export and import
/// are the same for all of them.
protocol SlotOptimizer: Optimizer {
    var slots: SlotStore { get }
    var iterations: Int { get set }
}

extension SlotOptimizer {
    public func reset() {
        slots.removeAll()
        iterations = 0
    }

    public func exportState(for parameters: [Parameter]) throws -> OptimizerState {
        OptimizerState(optimizer: name, iterations: iterations, learningRate: learningRate,
                       slots: try slots.export(for: parameters))
    }

    public func importState(_ state: OptimizerState, for parameters: [Parameter]) throws(OptimizerError) {
        guard state.optimizer == name else { throw .wrongOptimizer(expected: name, found: state.optimizer) }
        try slots.restore(state.slots, for: parameters)
        iterations = state.iterations
        learningRate = state.learningRate
    }
}

/// Per-parameter state tensors, created zeroed in the parameter's layout on first use and
/// keyed by parameter identity. The entry keeps its parameter alive, so an identifier is
/// never reused by another parameter while its state exists.
final class SlotStore {
    let names: [String]
    private struct Entry {
        let parameter: Parameter
        var tensors: [Tensor]
    }
    private var entries: [ObjectIdentifier: Entry] = [:]

    init(names: [String]) { self.names = names }

    func removeAll() { entries = [:] }

    /// The slots of `parameter`, in its current layout (re-laid-out if it moved).
    func tensors(for parameter: Parameter) throws -> [Tensor] {
        let key = ObjectIdentifier(parameter)
        if let entry = entries[key] {
            if entry.tensors.first?.layout == parameter.layout || entry.tensors.isEmpty { return entry.tensors }
            let moved = try entry.tensors.map { try $0.reordered(to: parameter.layout) }
            entries[key] = Entry(parameter: parameter, tensors: moved)
            return moved
        }
        let made = try names.map { _ in try Tensor(layout: parameter.layout) }
        entries[key] = Entry(parameter: parameter, tensors: made)
        return made
    }

    func export(for parameters: [Parameter]) throws -> [String: Tensor] {
        var out: [String: Tensor] = [:]
        for p in parameters {
            guard let entry = entries[ObjectIdentifier(p)] else { continue }
            for (name, t) in zip(names, entry.tensors) {
                // Always a copy, so later steps do not change an exported state.
                let copy = try Tensor(layout: .rowMajor(t.shape))
                try copy.assign(t)
                out["\(p.name)/\(name)"] = copy
            }
        }
        return out
    }

    func restore(_ slots: [String: Tensor], for parameters: [Parameter]) throws(OptimizerError) {
        var restored: [ObjectIdentifier: Entry] = [:]
        for p in parameters where p.trainable {
            // A parameter absent from the state was never updated; it starts fresh.
            guard names.contains(where: { slots["\(p.name)/\($0)"] != nil }) else { continue }
            var tensors: [Tensor] = []
            for name in names {
                let key = "\(p.name)/\(name)"
                guard let saved = slots[key] else { throw .missingSlot(key) }
                guard saved.shape == p.shape else {
                    throw .slotShapeMismatch(key, expected: p.shape, found: saved.shape)
                }
                do {
                    let t = try Tensor(layout: p.layout)
                    try t.assign(saved)
                    tensors.append(t)
                } catch {
                    throw .slotUnreadable(key, reason: "\(error)")
                }
            }
            restored[ObjectIdentifier(p)] = Entry(parameter: p, tensors: tensors)
        }
        entries = restored
    }
}

/// What every optimizer does around its own update rule: pick the parameters with
/// gradients, clip gradients (as a scale factor, so gradients are never modified), apply
/// decoupled weight decay, run the rule, mark the parameter updated.
struct UpdateDriver {
    /// The kernel gets the value, gradient and slot storage (physical order, padding
    /// included), the element count, and the factor to multiply the gradient by.
    typealias Kernel = (_ w: UnsafeMutablePointer<Float>, _ g: UnsafePointer<Float>,
                        _ slots: [Tensor], _ count: Int, _ gradScale: Float) -> Void

    static func run(_ parameters: [Parameter], options: OptimizerOptions, learningRate: Double,
                    slots: SlotStore, kernel: Kernel) throws {
        let active = parameters.filter { $0.trainable && $0.gradient != nil }
        var globalScale: Float = 1
        if options.clipNorm == nil, let clip = options.globalClipNorm, clip > 0 {
            let total = active.reduce(0.0) { $0 + sumOfSquares($1.gradient!.floats) }
            let norm = total.squareRoot()
            // Keras: clip * min(1/norm, 1/clip); a non-finite norm gives NaN, as in Keras.
            globalScale = Float(norm.isFinite ? clip * min(1 / norm, 1 / clip) : .nan)
        }
        let decay = options.weightDecay.map { Float($0) * Float(learningRate) }
        for p in active {
            let g = p.gradient!.floats
            let w = p.value.floats
            precondition(g.count == w.count, "Optimizer: gradient and value of \(p.name) differ in layout")
            var scale = globalScale
            if let clip = options.clipNorm, clip > 0 {
                let norm = sumOfSquares(g).squareRoot()
                scale = Float(clip / max(norm, clip))
            }
            if let decay, !options.excludeFromWeightDecay.contains(where: { p.name.contains($0) }) {
                applyWeightDecay(w.baseAddress!, count: w.count, factor: decay)
            }
            kernel(w.baseAddress!, UnsafePointer(g.baseAddress!), try slots.tensors(for: p), w.count, scale)
            p.markUpdated()
        }
    }

    static func sumOfSquares(_ x: UnsafeMutableBufferPointer<Float>) -> Double {
        var sum: Double = 0
        for v in x { sum += Double(v) * Double(v) }
        return sum
    }

    /// Keras 3: `variable.assign(variable - variable * wd * lr)`.
    static func applyWeightDecay(_ w: UnsafeMutablePointer<Float>, count: Int, factor: Float) {
        for i in 0..<count { w[i] -= w[i] * factor }
    }
}

extension Tensor {
    /// Start of the Float32 storage, for optimizer kernels.
    var floatPointer: UnsafeMutablePointer<Float> { floats.baseAddress! }
}
