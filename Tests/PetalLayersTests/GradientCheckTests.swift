import XCTest
import PetalCore
@testable import PetalLayers
import PetalTestSupport

/// Finite-difference checks of every layer's backward pass. The loss is L = Σ y·R for a
/// fixed random R, so dL/dy = R; central differences are accumulated in Double.
final class GradientCheckTests: XCTestCase {
    private func random(_ shape: [Int], seed: UInt64, scale: Float = 1) throws -> Tensor {
        var g = SplitMix64(seed: seed)
        return try g.tensor(shape) { ($0 * 2 - 1) * scale }
    }

    private func loss(_ network: Network, _ x: Tensor, _ r: [Float]) throws -> Double {
        let y = try network.forward(x, training: true, keepEverything: true).toArray()
        return zip(y, r).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
    }

    /// Compares analytic and numeric gradients of the input and of every trainable parameter
    /// at a sample of positions.
    private func check(_ network: Network, input shape: [Int], step: Float = 1e-3, tolerance: Double = 2e-2,
                       file: StaticString = #filePath, line: UInt = #line) throws {
        let x = try random(shape, seed: 1)
        let yShape = try network.forward(x, training: true, keepEverything: true).shape
        let r = try random(yShape, seed: 2).toArray()
        _ = try network.forward(x, training: true, keepEverything: true)
        guard let dx = try network.backward(try Tensor(shape: yShape, values: r), inputGradient: true) else {
            return XCTFail("no input gradient", file: file, line: line)
        }
        let analyticInput = try dx.toArray()
        let analyticParameters = try network.trainableParameters.map { try $0.gradient!.reordered(to: .rowMajor($0.shape)).toArray() }

        func numeric(_ read: () -> Float, _ write: (Float) throws -> Void) throws -> Double {
            let original = read()
            try write(original + step); let plus = try loss(network, x, r)
            try write(original - step); let minus = try loss(network, x, r)
            try write(original)
            return (plus - minus) / (2 * Double(step))
        }
        func compare(_ analytic: Double, _ numeric: Double, _ what: String) {
            let scale = max(1, abs(analytic), abs(numeric))
            XCTAssertLessThan(abs(analytic - numeric) / scale, tolerance,
                              "\(what): analytic \(analytic) vs numeric \(numeric)", file: file, line: line)
        }
        let xs = x.floats
        for i in stride(from: 0, to: x.count, by: max(1, x.count / 12)) {
            compare(Double(analyticInput[i]), try numeric({ xs[i] }, { xs[i] = $0 }), "input[\(i)]")
        }
        for (p, analytic) in zip(network.trainableParameters, analyticParameters) {
            let plain = try p.value.reordered(to: .rowMajor(p.shape))
            for i in stride(from: 0, to: plain.count, by: max(1, plain.count / 8)) {
                let n = try numeric({ plain.floats[i] }, { plain.floats[i] = $0; try p.load(plain) })
                compare(Double(analytic[i]), n, "\(p.name)[\(i)]")
            }
        }
    }

    private func network(_ shape: [Int], _ build: (Network) throws -> Void) rethrows -> Network {
        let net = Network(input: InputLayer(shape: Array(shape.dropFirst())))
        try build(net)
        return net
    }

    func testConv2DSamePaddingStride2() throws {
        let shape = [2, 3, 7, 6]
        try check(try network(shape) { $0.add(try Conv2D(name: "c", inputChannels: 3, filters: 4, kernelSize: [3, 3],
                                              strides: [2, 2], padding: .same, seed: 3)) }, input: shape)
    }

    func testDepthwiseConvolutionWithZeroPadding() throws {
        let shape = [2, 4, 6, 6]
        try check(try network(shape) {
            $0.add(ZeroPadding2D(name: "pad", padding: [0, 1, 0, 1]))
            $0.add(try Conv2D.depthwise(name: "dw", channels: 4, kernelSize: [3, 3], strides: [2, 2]))
        }, input: shape)
    }

    func testDepthwise5x5() throws {
        let shape = [1, 8, 9, 9]
        try check(try network(shape) { $0.add(try Conv2D.depthwise(name: "dw", channels: 8, kernelSize: [5, 5], padding: .same)) },
              input: shape)
    }

    /// 5x5 depthwise weight gradients are computed in Swift on blocks of 8 channels: a channel
    /// count that is not a multiple of 8, stride 2 and TensorFlow's asymmetric padding.
    func testDepthwise5x5Stride2WithPartialChannelBlock() throws {
        let shape = [2, 11, 10, 10]
        try check(try network(shape) {
            $0.add(try Conv2D.depthwise(name: "dw", channels: 11, kernelSize: [5, 5], strides: [2, 2], padding: .same))
        }, input: shape)
    }

    func testBatchNormalizationTraining() throws {
        let shape = [4, 3, 3, 3]
        try check(try network(shape) { $0.add(try BatchNormalization(name: "bn", channels: 3)) }, input: shape)
    }

    func testBatchNormalizationWithFrozenStatistics() throws {
        let shape = [2, 3, 3, 3]
        try check(try network(shape) {
            let bn = try BatchNormalization(name: "bn", channels: 3)
            bn.freezeStatistics = true
            try bn.movingMean.load(try Tensor(shape: [3], values: [0.1, -0.2, 0.3]))
            try bn.movingVariance.load(try Tensor(shape: [3], values: [0.5, 1.5, 2.0]))
            $0.add(bn)
        }, input: shape)
    }

    func testReLU6AndGlobalPoolingAndDense() throws {
        let shape = [3, 5, 4, 4]
        try check(try network(shape) {
            $0.add(Activation(name: "relu", .relu6))
            $0.add(GlobalAveragePooling2D(name: "gap"))
            $0.add(try Dense(name: "hidden", inputs: 5, units: 6, activation: .relu, seed: 4))
            $0.add(try Dense(name: "out", inputs: 6, units: 3, seed: 5))
        }, input: shape)
    }

    /// A small inverted-residual block (expand, depthwise, project, add) with its first
    /// convolution frozen: gradients of the frozen layer's parameters are not computed.
    func testResidualBlockWithFrozenLayer() throws {
        let shape = [2, 4, 5, 5]
        let net = try network(shape) { net in
            let input = net.last
            net.add(try Conv2D(name: "expand", inputChannels: 4, filters: 8, kernelSize: [1, 1], useBias: false, seed: 6))
            net.add(try BatchNormalization(name: "expand_BN", channels: 8))
            net.add(Activation(name: "expand_relu", .relu6))
            net.add(try Conv2D.depthwise(name: "depthwise", channels: 8, kernelSize: [3, 3], padding: .same))
            net.add(try BatchNormalization(name: "depthwise_BN", channels: 8))
            net.add(Activation(name: "depthwise_relu", .relu6))
            net.add(try Conv2D(name: "project", inputChannels: 8, filters: 4, kernelSize: [1, 1], useBias: false, seed: 7))
            let projected = net.add(try BatchNormalization(name: "project_BN", channels: 4))
            net.add(Add(name: "add"), inputs: [input, projected])
        }
        net.layer(named: "expand")!.trainable = false
        try check(net, input: shape, step: 2e-4, tolerance: 3e-2)
        XCTAssertNil((net.layer(named: "expand") as! Conv2D).weight.gradient)
    }

    func testSoftmaxCrossEntropyGradient() throws {
        let logits = try random([4, 5], seed: 9, scale: 3)
        let labels = [0, 3, 4, 1]
        let result = try SoftmaxCrossEntropy.evaluate(logits: logits, labels: labels)
        let g = try result.logitsGradient.toArray()
        for i in 0..<logits.count {
            let original = logits.floats[i]
            logits.floats[i] = original + 1e-3
            let plus = try SoftmaxCrossEntropy.evaluate(logits: logits, labels: labels).loss
            logits.floats[i] = original - 1e-3
            let minus = try SoftmaxCrossEntropy.evaluate(logits: logits, labels: labels).loss
            logits.floats[i] = original
            XCTAssertEqual(Double(g[i]), (plus - minus) / 2e-3, accuracy: 1e-3)
        }
        // Stable for extreme logits.
        let extreme = try Tensor(shape: [1, 3], values: [1000, -1000, 0])
        XCTAssertTrue(try SoftmaxCrossEntropy.evaluate(logits: extreme, labels: [1]).loss.isFinite)
    }
}
