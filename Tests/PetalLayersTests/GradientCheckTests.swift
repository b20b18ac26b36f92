import XCTest
import PetalCore
@testable import PetalLayers
import PetalTestSupport

/// Finite-difference checks of every layer's backward pass. The loss is L = Σ y·R for a
/// fixed random R, so dL/dy = R; central differences are accumulated in Double.
final class GradientCheckTests: XCTestCase {
    private func random(_ shape: [Int], seed: UInt64, scale: Float = 1) -> Tensor {
        var g = SplitMix64(seed: seed)
        return g.tensor(shape) { ($0 * 2 - 1) * scale }
    }

    private func loss(_ network: Network, _ x: Tensor, _ r: [Float]) -> Double {
        let y = network.forward(x, training: true, keepEverything: true).toArray()
        return zip(y, r).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
    }

    /// Compares analytic and numeric gradients of the input and of every trainable parameter
    /// at a sample of positions.
    private func check(_ network: Network, input shape: [Int], step: Float = 1e-3, tolerance: Double = 2e-2,
                       file: StaticString = #filePath, line: UInt = #line) {
        let x = random(shape, seed: 1)
        let yShape = network.forward(x, training: true, keepEverything: true).shape
        let r = random(yShape, seed: 2).toArray()
        _ = network.forward(x, training: true, keepEverything: true)
        guard let dx = network.backward(Tensor(shape: yShape, values: r), inputGradient: true) else {
            return XCTFail("no input gradient", file: file, line: line)
        }
        let analyticInput = dx.toArray()
        let analyticParameters = network.trainableParameters.map { $0.gradient!.reordered(to: .rowMajor($0.shape)).toArray() }

        func numeric(_ read: () -> Float, _ write: (Float) -> Void) -> Double {
            let original = read()
            write(original + step); let plus = loss(network, x, r)
            write(original - step); let minus = loss(network, x, r)
            write(original)
            return (plus - minus) / (2 * Double(step))
        }
        func compare(_ analytic: Double, _ numeric: Double, _ what: String) {
            let scale = max(1, abs(analytic), abs(numeric))
            XCTAssertLessThan(abs(analytic - numeric) / scale, tolerance,
                              "\(what): analytic \(analytic) vs numeric \(numeric)", file: file, line: line)
        }
        let xs = x.floats
        for i in stride(from: 0, to: x.count, by: max(1, x.count / 12)) {
            compare(Double(analyticInput[i]), numeric({ xs[i] }, { xs[i] = $0 }), "input[\(i)]")
        }
        for (p, analytic) in zip(network.trainableParameters, analyticParameters) {
            let plain = p.value.reordered(to: .rowMajor(p.shape))
            for i in stride(from: 0, to: plain.count, by: max(1, plain.count / 8)) {
                let n = numeric({ plain.floats[i] }, { plain.floats[i] = $0; p.load(plain) })
                compare(Double(analytic[i]), n, "\(p.name)[\(i)]")
            }
        }
    }

    private func network(_ shape: [Int], _ build: (Network) -> Void) -> Network {
        let net = Network(input: InputLayer(shape: Array(shape.dropFirst())))
        build(net)
        return net
    }

    func testConv2DSamePaddingStride2() {
        let shape = [2, 3, 7, 6]
        check(network(shape) { $0.add(Conv2D(name: "c", inputChannels: 3, filters: 4, kernelSize: [3, 3],
                                              strides: [2, 2], padding: .same, seed: 3)) }, input: shape)
    }

    func testDepthwiseConvolutionWithZeroPadding() {
        let shape = [2, 4, 6, 6]
        check(network(shape) {
            $0.add(ZeroPadding2D(name: "pad", padding: [0, 1, 0, 1]))
            $0.add(Conv2D.depthwise(name: "dw", channels: 4, kernelSize: [3, 3], strides: [2, 2]))
        }, input: shape)
    }

    func testDepthwise5x5() {
        let shape = [1, 8, 9, 9]
        check(network(shape) { $0.add(Conv2D.depthwise(name: "dw", channels: 8, kernelSize: [5, 5], padding: .same)) },
              input: shape)
    }

    /// 5x5 depthwise weight gradients are computed in Swift on blocks of 8 channels: a channel
    /// count that is not a multiple of 8, stride 2 and TensorFlow's asymmetric padding.
    func testDepthwise5x5Stride2WithPartialChannelBlock() {
        let shape = [2, 11, 10, 10]
        check(network(shape) {
            $0.add(Conv2D.depthwise(name: "dw", channels: 11, kernelSize: [5, 5], strides: [2, 2], padding: .same))
        }, input: shape)
    }

    func testBatchNormalizationTraining() {
        let shape = [4, 3, 3, 3]
        check(network(shape) { $0.add(BatchNormalization(name: "bn", channels: 3)) }, input: shape)
    }

    func testBatchNormalizationWithFrozenStatistics() {
        let shape = [2, 3, 3, 3]
        check(network(shape) {
            let bn = BatchNormalization(name: "bn", channels: 3)
            bn.freezeStatistics = true
            bn.movingMean.load(Tensor(shape: [3], values: [0.1, -0.2, 0.3]))
            bn.movingVariance.load(Tensor(shape: [3], values: [0.5, 1.5, 2.0]))
            $0.add(bn)
        }, input: shape)
    }

    func testReLU6AndGlobalPoolingAndDense() {
        let shape = [3, 5, 4, 4]
        check(network(shape) {
            $0.add(Activation(name: "relu", .relu6))
            $0.add(GlobalAveragePooling2D(name: "gap"))
            $0.add(Dense(name: "hidden", inputs: 5, units: 6, activation: .relu, seed: 4))
            $0.add(Dense(name: "out", inputs: 6, units: 3, seed: 5))
        }, input: shape)
    }

    /// A small inverted-residual block (expand, depthwise, project, add) with its first
    /// convolution frozen: gradients of the frozen layer's parameters are not computed.
    func testResidualBlockWithFrozenLayer() {
        let shape = [2, 4, 5, 5]
        let net = network(shape) { net in
            let input = net.last
            net.add(Conv2D(name: "expand", inputChannels: 4, filters: 8, kernelSize: [1, 1], useBias: false, seed: 6))
            net.add(BatchNormalization(name: "expand_BN", channels: 8))
            net.add(Activation(name: "expand_relu", .relu6))
            net.add(Conv2D.depthwise(name: "depthwise", channels: 8, kernelSize: [3, 3], padding: .same))
            net.add(BatchNormalization(name: "depthwise_BN", channels: 8))
            net.add(Activation(name: "depthwise_relu", .relu6))
            net.add(Conv2D(name: "project", inputChannels: 8, filters: 4, kernelSize: [1, 1], useBias: false, seed: 7))
            let projected = net.add(BatchNormalization(name: "project_BN", channels: 4))
            net.add(Add(name: "add"), inputs: [input, projected])
        }
        net.layer(named: "expand")!.trainable = false
        check(net, input: shape, step: 2e-4, tolerance: 3e-2)
        XCTAssertNil((net.layer(named: "expand") as! Conv2D).weight.gradient)
    }

    func testSoftmaxCrossEntropyGradient() {
        let logits = random([4, 5], seed: 9, scale: 3)
        let labels = [0, 3, 4, 1]
        let result = SoftmaxCrossEntropy.evaluate(logits: logits, labels: labels)
        let g = result.logitsGradient.toArray()
        for i in 0..<logits.count {
            let original = logits.floats[i]
            logits.floats[i] = original + 1e-3
            let plus = SoftmaxCrossEntropy.evaluate(logits: logits, labels: labels).loss
            logits.floats[i] = original - 1e-3
            let minus = SoftmaxCrossEntropy.evaluate(logits: logits, labels: labels).loss
            logits.floats[i] = original
            XCTAssertEqual(Double(g[i]), (plus - minus) / 2e-3, accuracy: 1e-3)
        }
        // Stable for extreme logits.
        let extreme = Tensor(shape: [1, 3], values: [1000, -1000, 0])
        XCTAssertTrue(SoftmaxCrossEntropy.evaluate(logits: extreme, labels: [1]).loss.isFinite)
    }
}
