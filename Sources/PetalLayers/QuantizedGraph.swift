import PetalCore

/// A whole quantized model as one inference-only layer: int8 convolutions and dense layers
/// and the few float layers between them (global average pooling, dropout's identity), run
/// in order over values held only for the call. A `Network` with this layer after its input
/// classifies like any other (`Network.infer`); nothing is kept, so threads share it.
public final class QuantizedGraph: Layer, @unchecked Sendable {  // unchecked: immutable after init; `infer` only reads
    public enum Operation: Sendable {
        case convolution(QuantizedConv2D)
        case dense(QuantizedDense)
        /// A float layer's `infer` (e.g. GlobalAveragePooling2D).
        case float(Layer)
    }

    /// One operation; `inputs` index the values: 0 is the graph's input, k the output of step k - 1.
    /// A convolution's second input is its residual.
    public struct Step: Sendable {
        public let operation: Operation
        public let inputs: [Int]

        public init(_ operation: Operation, inputs: [Int]) {
            self.operation = operation
            self.inputs = inputs
        }
    }

    public let steps: [Step]
    /// The width of the last step's output (the class count).
    public let outputWidth: Int
    /// How many steps read each value (the last is also read by the caller).
    private let readers: [Int]

    public init(name: String, steps: [Step], outputWidth: Int) throws {
        for (k, step) in steps.enumerated() where step.inputs.contains(where: { $0 < 0 || $0 > k }) || step.inputs.isEmpty {
            throw LayerError.invalidConfiguration(layer: name, reason: "step \(k) reads a later value \(step.inputs)")
        }
        self.steps = steps
        self.outputWidth = outputWidth
        var readers = [Int](repeating: 0, count: steps.count + 1)
        for step in steps { for i in step.inputs { readers[i] += 1 } }
        readers[steps.count] += 1
        readers[0] += 1
        self.readers = readers
        super.init(name: name)
    }

    public override var typeName: String { "QuantizedGraph" }
    public override func outputShape(_ inputShapes: [[Int]]) -> [Int] { [inputShapes[0][0], outputWidth] }

    public override func forward(_ inputs: [Tensor], _ context: ForwardContext) throws -> Tensor {
        guard !context.training else {
            throw LayerError.invalidConfiguration(layer: name, reason: "an int8 model cannot be trained; train the float model")
        }
        return try infer(inputs)
    }

    public override func backward(_ g: Tensor, _ context: BackwardContext) throws -> [Tensor?] {
        throw LayerError.invalidConfiguration(layer: name, reason: "an int8 model cannot be trained; train the float model")
    }

    public override func infer(_ inputs: [Tensor], buffers: TensorPool? = nil) throws -> Tensor {
        var values = [Tensor?](repeating: nil, count: steps.count + 1)
        var left = readers
        values[0] = inputs[0]
        for (k, step) in steps.enumerated() {
            let x = step.inputs.map { values[$0]! }
            let y: Tensor
            switch step.operation {
            case .convolution(let conv): y = try conv.infer(x[0], residual: x.count > 1 ? x[1] : nil, buffers: buffers)
            case .dense(let dense): y = try dense.infer(x[0], buffers: buffers)
            case .float(let layer): y = try layer.infer(x, buffers: buffers)
            }
            values[k + 1] = y
            // Values no step reads any more go back to the pool (a float layer may pass its
            // input on unchanged: then the tensor lives on as the new value).
            for i in step.inputs {
                left[i] -= 1
                if left[i] == 0, let done = values[i], done !== y { buffers?.giveBack(done) }
                if left[i] == 0 { values[i] = nil }
            }
        }
        return values[steps.count]!
    }
}
