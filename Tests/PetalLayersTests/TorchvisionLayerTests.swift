import XCTest
import PetalCore
import PetalLayers
import PetalTestSupport
import PetalWeights

/// The layers ResNet and MobileNetV3 added (max pooling, hard-swish, hard-sigmoid,
/// squeeze-and-excitation's channel scaling) against PyTorch's forward and autograd, from
/// Tests/Fixtures/torchvision/layers.safetensors (scripts/fixtures/make_torchvision_fixtures.py):
/// outputs and input gradients within 1e-4 relative.
final class TorchvisionLayerTests: XCTestCase {
    private static let fixture: Result<SafetensorsFile, Error> = Result {
        try SafetensorsFile.read(Fixtures.url("torchvision/layers.safetensors"))
    }

    private func tensor(_ name: String) throws -> Tensor {
        guard let t = try Self.fixture.get().tensors[name] else { throw WeightError.missingTensor(name: name, source: "layers fixture") }
        return t
    }

    private func compare(_ actual: Tensor, _ reference: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let a = try actual.toArray(), b = try tensor(reference).toArray()
        XCTAssertEqual(a.count, b.count, "\(reference): \(actual.shape)", file: file, line: line)
        let scale = max(1, b.map(abs).max() ?? 0)
        let worst = zip(a, b).map { abs($0 - $1) }.max() ?? .infinity
        print("TorchvisionLayer \(reference): max |diff| \(worst) (scale \(scale))")
        XCTAssertLessThanOrEqual(worst, 1e-4 * scale, reference, file: file, line: line)
    }

    /// A training forward, a backward pass with the fixture's `r` as output gradient, and the
    /// inference path (which must agree with the training forward).
    private func check(_ name: String, input: String, _ build: (Network) throws -> Void) throws {
        let x = try tensor(input)
        let net = Network(input: InputLayer(shape: Array(x.shape.dropFirst())))
        try build(net)
        let y = try net.forward(x, training: true, keepEverything: true).rowMajor()
        try compare(y, "\(name).y")
        let dx = try XCTUnwrap(try net.backward(try tensor("\(name).r").reshaped(y.shape), inputGradient: true))
        try compare(try dx.rowMajor(), "\(name).dx")
        try compare(try net.infer(x).rowMajor(), "\(name).y")
    }

    func testMaxPoolMatchesPyTorch() throws {
        try check("maxpool", input: "x") { $0.add(MaxPool2D(name: "maxpool", kernel: 3, stride: 2, padding: 1)) }
    }

    func testHardSwishAndHardSigmoidMatchPyTorch() throws {
        try check("hardswish", input: "hardswish.x") { $0.add(Activation(name: "hs", .hardSwish)) }
        try check("hardsigmoid", input: "hardsigmoid.x") { $0.add(Activation(name: "hsig", .hardSigmoid)) }
    }

    /// torchvision's SqueezeExcitation(8, 8, scale_activation=Hardsigmoid) as Petal's layers.
    func testSqueezeExcitationMatchesPyTorch() throws {
        try check("se", input: "x") { net in
            net.add(GlobalAveragePooling2D(name: "avgpool", keepsDimensions: true))
            for (i, fc) in ["fc1", "fc2"].enumerated() {
                let conv = try Conv2D(name: fc, inputChannels: 8, filters: 8, kernelSize: [1, 1])
                try conv.weight.load(try tensor("se.\(fc).weight").reshaped(conv.weight.shape))
                try conv.bias!.load(try tensor("se.\(fc).bias"))
                net.add(conv)
                net.add(Activation(name: "act\(i)", i == 0 ? .relu : .hardSigmoid))
            }
            net.add(ScaleChannels(name: "mul"), inputs: [0, net.last])
        }
    }
}
