import XCTest
import PetalCore
import PetalLayers
import PetalTestSupport
import PetalWeights

/// Every case of Tests/Fixtures/layers.safetensors (PyTorch autograd in float64, cross-checked
/// with Keras; see scripts/fixtures/README.md): Petal's layer, loaded with the case's weights,
/// runs a training forward and a backward pass with the case's `dy`, and its output, input
/// gradient and parameter gradients must match within 1e-4 relative:
/// |petal - reference| <= 1e-4 * max(1, max |reference|).
final class PyTorchReferenceTests: XCTestCase {
    private static let fixture: Result<SafetensorsFile, Error> = Result {
        try SafetensorsFile.read(Fixtures.url("layers.safetensors"))
    }

    private func tensor(_ name: String) throws -> Tensor {
        let file = try Self.fixture.get()
        guard let t = file.tensors[name] else { throw FixtureError.missing(name) }
        return t
    }

    private enum FixtureError: Error { case missing(String) }

    /// Asserts the tolerance and prints the largest difference, so a run shows how close each
    /// quantity is (the numbers quoted in reports come from here).
    private func compare(_ actual: Tensor, _ reference: Tensor, _ what: String,
                         file: StaticString = #filePath, line: UInt = #line) throws {
        XCTAssertEqual(actual.count, reference.count, "\(what): \(actual.shape) vs reference \(reference.shape)",
                       file: file, line: line)
        compare(try actual.toArray(), try reference.toArray(), what, file: file, line: line)
    }

    private func compare(_ a: [Float], _ b: [Float], _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        guard a.count == b.count else { return XCTFail("\(what): \(a.count) values vs \(b.count)", file: file, line: line) }
        let scale = max(1, b.map { abs($0) }.max() ?? 0)
        var worst: Float = 0, at = 0
        for i in a.indices where !(abs(a[i] - b[i]) <= worst) { worst = abs(a[i] - b[i]); at = i }
        print("PyTorchReference \(what): max |diff| \(worst) (scale \(scale))")
        XCTAssertLessThanOrEqual(worst, 1e-4 * scale,
                                 "\(what)[\(at)]: Petal \(a[at]) vs PyTorch \(b[at])", file: file, line: line)
    }

    private func network(input: Tensor, _ layers: [Layer]) -> Network {
        let net = Network(input: InputLayer(shape: Array(input.shape.dropFirst())))
        for layer in layers { net.add(layer) }
        return net
    }

    /// A training forward and a backward pass with `dy`; returns (y, dx) in row-major order.
    private func trainingStep(_ net: Network, _ x: Tensor, _ dy: Tensor) throws -> (y: Tensor, dx: Tensor?) {
        let y = try net.forward(x, training: true, keepEverything: true).rowMajor()
        let dx = try net.backward(try dy.reshaped(y.shape), inputGradient: true)?.rowMajor()
        return (y, dx)
    }

    private func gradient(_ p: Parameter) throws -> Tensor? {
        try p.gradient?.reordered(to: .rowMajor(p.shape))
    }

    // MARK: - Convolutions

    /// Loads the case's weights (depthwise [C,1,kh,kw] reshaped to Petal's grouped
    /// [C,1,1,kh,kw]) and compares y, dx, dw and db.
    private func checkConvolution(_ name: String, _ layers: [Layer], conv: Conv2D,
                                  file: StaticString = #filePath, line: UInt = #line) throws {
        let x = try tensor("\(name).x")
        try conv.weight.load(try tensor("\(name).w").reshaped(conv.weight.shape))
        if let bias = conv.bias { try bias.load(try tensor("\(name).b")) }
        let net = network(input: x, layers)
        let (y, dx) = try trainingStep(net, x, try tensor("\(name).dy"))
        try compare(y, try tensor("\(name).y"), "\(name).y", file: file, line: line)
        guard let dx else { return XCTFail("\(name): no input gradient", file: file, line: line) }
        try compare(dx, try tensor("\(name).dx"), "\(name).dx", file: file, line: line)
        guard let dw = try gradient(conv.weight) else { return XCTFail("\(name): no weight gradient", file: file, line: line) }
        try compare(dw, try tensor("\(name).dw"), "\(name).dw", file: file, line: line)
        if let bias = conv.bias {
            try compare(try gradient(bias)!, try tensor("\(name).db"), "\(name).db", file: file, line: line)
        }
    }

    func testConvolution3x3Stride2SamePadding() throws {
        let conv = try Conv2D(name: "conv", inputChannels: 3, filters: 8, kernelSize: [3, 3], strides: [2, 2],
                          padding: .same, useBias: true)
        try checkConvolution("conv3x3s2same", [conv], conv: conv)
    }

    func testDepthwise3x3Stride1() throws {
        let conv = try Conv2D.depthwise(name: "dw", channels: 8, kernelSize: [3, 3], padding: .same)
        try checkConvolution("dw3x3s1", [conv], conv: conv)
    }

    /// MobileNetV2's stride-2 depthwise: ZeroPadding2D(((0, 1), (0, 1))) then a valid convolution.
    func testDepthwise3x3Stride2AfterZeroPadding() throws {
        let conv = try Conv2D.depthwise(name: "dw", channels: 8, kernelSize: [3, 3], strides: [2, 2], padding: .valid)
        try checkConvolution("dw3x3s2pad", [ZeroPadding2D(name: "pad", padding: [0, 1, 0, 1]), conv], conv: conv)
    }

    func testDepthwise5x5Stride1() throws {
        let conv = try Conv2D.depthwise(name: "dw", channels: 8, kernelSize: [5, 5], padding: .same)
        try checkConvolution("dw5x5s1", [conv], conv: conv)
    }

    func testDepthwise5x5Stride2SamePadding() throws {
        let conv = try Conv2D.depthwise(name: "dw", channels: 8, kernelSize: [5, 5], strides: [2, 2], padding: .same)
        try checkConvolution("dw5x5s2same", [conv], conv: conv)
    }

    func testPointwise() throws {
        let conv = try Conv2D(name: "pw", inputChannels: 16, filters: 24, kernelSize: [1, 1], useBias: false)
        try checkConvolution("pw", [conv], conv: conv)
    }

    /// A second step with the same data gives the same results and creates no primitive.
    func testRepeatedStepIsIdenticalAndCreatesNoPrimitive() throws {
        let conv = try Conv2D(name: "conv", inputChannels: 3, filters: 8, kernelSize: [3, 3], strides: [2, 2],
                          padding: .same, useBias: true)
        try conv.weight.load(try tensor("conv3x3s2same.w"))
        try conv.bias!.load(try tensor("conv3x3s2same.b"))
        let x = try tensor("conv3x3s2same.x"), dy = try tensor("conv3x3s2same.dy")
        let net = network(input: x, [conv, try BatchNormalization(name: "bn", channels: 8), Activation(name: "relu", .relu6)])
        let first = try trainingStep(net, x, dy)
        let (y1, dx1, dw1) = (try first.y.toArray(), try first.dx!.toArray(), try gradient(conv.weight)!.toArray())
        let created = PrimitiveCache.shared.creations
        let second = try trainingStep(net, x, dy)
        XCTAssertEqual(PrimitiveCache.shared.creations, created, "the second step created primitives")
        XCTAssertEqual(try second.y.toArray(), y1)
        XCTAssertEqual(try second.dx!.toArray(), dx1)
        XCTAssertEqual(try gradient(conv.weight)!.toArray(), dw1)
    }

    /// Inference folds Conv2D + BatchNormalization + ReLU6 into one convolution with a clip
    /// post-op; it must give what the three layers give one by one (frozen statistics), on
    /// values well beyond 6 and below 0.
    func testFoldedInferenceMatchesSeparateLayers() throws {
        let x = try tensor("conv3x3s2same.x")
        func build() throws -> (Network, BatchNormalization) {
            let conv = try Conv2D(name: "conv", inputChannels: 3, filters: 8, kernelSize: [3, 3], strides: [2, 2],
                              padding: .same, useBias: true)
            try conv.weight.load(try tensor("conv3x3s2same.w"))
            try conv.bias!.load(try tensor("conv3x3s2same.b"))
            let bn = try BatchNormalization(name: "bn", channels: 8)
            try bn.gamma.load(try Tensor(shape: [8], values: [3, 2, 1.5, 1, 0.5, -1, 2.5, 4]))
            try bn.beta.load(try Tensor(shape: [8], values: [1, -1, 2, 0, 3, 0.5, -2, 4]))
            try bn.movingMean.load(try Tensor(shape: [8], values: [0.1, -0.2, 0.3, 0, 0.5, -1, 0.2, 0.4]))
            try bn.movingVariance.load(try Tensor(shape: [8], values: [0.5, 1.5, 2, 1, 0.25, 3, 0.8, 1.2]))
            return (network(input: x, [conv, bn, Activation(name: "relu", .relu6)]), bn)
        }
        let (folded, _) = try build()
        let inference = try folded.forward(x, training: false).toArray()
        let (separate, bn) = try build()
        bn.freezeStatistics = true
        let reference = try separate.forward(x, training: true, keepEverything: true).toArray()
        XCTAssertTrue(reference.contains(6) && reference.contains(0), "the case reaches both clip bounds")
        compare(inference, reference, "folded conv+BN+ReLU6 inference")
    }

    // MARK: - Batch normalization

    private func batchNorm(_ name: String) throws -> BatchNormalization {
        let gamma = try tensor("\(name).gamma")
        let bn = try BatchNormalization(name: "bn", channels: gamma.count, momentum: 0.99, epsilon: 1e-3)
        try bn.gamma.load(gamma)
        try bn.beta.load(try tensor("\(name).beta"))
        try bn.movingMean.load(try tensor("\(name).moving_mean"))
        try bn.movingVariance.load(try tensor("\(name).moving_var"))
        return bn
    }

    private func checkBatchNormGradients(_ name: String, _ bn: BatchNormalization, dx: Tensor?) throws {
        guard let dx else { return XCTFail("\(name): no input gradient") }
        try compare(dx, try tensor("\(name).dx"), "\(name).dx")
        try compare(try gradient(bn.gamma)!, try tensor("\(name).dgamma"), "\(name).dgamma")
        try compare(try gradient(bn.beta)!, try tensor("\(name).dbeta"), "\(name).dbeta")
    }

    func testBatchNormalizationTraining() throws {
        let bn = try batchNorm("bn_train")
        let x = try tensor("bn_train.x")
        let (y, dx) = try trainingStep(network(input: x, [bn]), x, try tensor("bn_train.dy"))
        try compare(y, try tensor("bn_train.y"), "bn_train.y")
        try checkBatchNormGradients("bn_train", bn, dx: dx)
        try compare(bn.movingMean.value, try tensor("bn_train.new_moving_mean"), "bn_train.new_moving_mean")
        try compare(bn.movingVariance.value, try tensor("bn_train.new_moving_var"), "bn_train.new_moving_var")
    }

    /// Moving statistics: in training with frozen statistics (fine-tuning; gradients flow)
    /// and in a pure inference forward.
    func testBatchNormalizationOnMovingStatistics() throws {
        let bn = try batchNorm("bn_infer")
        bn.freezeStatistics = true
        let x = try tensor("bn_infer.x")
        let net = network(input: x, [bn])
        let (y, dx) = try trainingStep(net, x, try tensor("bn_infer.dy"))
        try compare(y, try tensor("bn_infer.y"), "bn_infer.y (training, frozen statistics)")
        try checkBatchNormGradients("bn_infer", bn, dx: dx)
        try compare(bn.movingMean.value, try tensor("bn_infer.moving_mean"), "bn_infer.moving_mean (unchanged)")

        let inference = try batchNorm("bn_infer")
        try compare(try network(input: x, [inference]).forward(x, training: false), try tensor("bn_infer.y"),
                "bn_infer.y (inference)")
    }

    // MARK: - Head and activations

    func testDense() throws {
        let x = try tensor("dense.x"), w = try tensor("dense.w")
        let dense = try Dense(name: "dense", inputs: w.shape[1], units: w.shape[0])
        try dense.weight.load(w)
        try dense.bias.load(try tensor("dense.b"))
        let (y, dx) = try trainingStep(network(input: x, [dense]), x, try tensor("dense.dy"))
        try compare(y, try tensor("dense.y"), "dense.y")
        try compare(dx!, try tensor("dense.dx"), "dense.dx")
        try compare(try gradient(dense.weight)!, try tensor("dense.dw"), "dense.dw")
        try compare(try gradient(dense.bias)!, try tensor("dense.db"), "dense.db")
    }

    func testSoftmaxCrossEntropy() throws {
        let logits = try tensor("softmax_ce.logits")
        let oneHot = try tensor("softmax_ce.labels")
        let k = oneHot.shape[1]
        let rows = try oneHot.toArray()
        let labels = (0..<oneHot.shape[0]).map { r in (0..<k).first { rows[r * k + $0] == 1 }! }
        let result = try SoftmaxCrossEntropy.evaluate(logits: logits, labels: labels)
        compare([Float(result.loss)], try tensor("softmax_ce.loss").toArray(), "softmax_ce.loss")
        try compare(result.logitsGradient, try tensor("softmax_ce.dlogits"), "softmax_ce.dlogits")
    }

    func testGlobalAveragePooling() throws {
        let x = try tensor("gap.x")
        let (y, dx) = try trainingStep(network(input: x, [GlobalAveragePooling2D(name: "gap")]), x, try tensor("gap.dy"))
        try compare(y, try tensor("gap.y"), "gap.y")
        try compare(dx!, try tensor("gap.dx"), "gap.dx")
    }

    func testReLU6() throws {
        let x = try tensor("relu6.x")
        let (y, dx) = try trainingStep(network(input: x, [Activation(name: "relu6", .relu6)]), x, try tensor("relu6.dy"))
        try compare(y, try tensor("relu6.y"), "relu6.y")
        try compare(dx!, try tensor("relu6.dx"), "relu6.dx")
    }

    /// TensorFlow's Relu6Grad passes no gradient at exactly 0 and exactly 6.
    func testReLU6GradientAtTheEdges() throws {
        let x = try tensor("relu6_edges.x")
        let (y, dx) = try trainingStep(network(input: x, [Activation(name: "relu6", .relu6)]), x,
                                   try tensor("relu6_edges.dy"))
        try compare(y, try tensor("relu6_edges.y"), "relu6_edges.y")
        try compare(dx!, try tensor("relu6_edges.dx"), "relu6_edges.dx")
    }
}
