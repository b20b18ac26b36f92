import Foundation
import XCTest
import PetalCore
import PetalLayers
@testable import PetalModels
import PetalTestSupport
import PetalWeights

/// ResNet and MobileNetV3 against torchvision 0.14 on random weights (batch-norm statistics
/// too), from Tests/Fixtures/torchvision (scripts/fixtures/make_torchvision_fixtures.py):
/// ResNet-50's stem, layer1 and a stride-2 Bottleneck; MobileNetV3-Small (width 0.35) and
/// -Large (width 0.25), whole. Logits (inference) within 1e-4; in training mode (batch
/// statistics) the input gradient and a few parameter gradients match PyTorch's autograd.
final class TorchvisionReferenceTests: XCTestCase {
    private func fixture(_ name: String) throws -> SafetensorsFile {
        try SafetensorsFile.read(Fixtures.url("torchvision/\(name).safetensors"))
    }

    private func binder(_ file: SafetensorsFile, _ name: String) -> WeightBinder {
        WeightBinder(store: WeightStore(tensors: file.tensors, source: name), convention: .pytorch)
    }

    private func compare(_ actual: Tensor, _ reference: Tensor?, _ what: String, tolerance: Float = 1e-4,
                         file: StaticString = #filePath, line: UInt = #line) throws {
        let reference = try XCTUnwrap(reference, "\(what) missing from the fixture", file: file, line: line)
        let a = try actual.toArray(), b = try reference.toArray()
        XCTAssertEqual(a.count, b.count, "\(what): \(actual.shape) vs \(reference.shape)", file: file, line: line)
        let scale = max(1, b.map(abs).max() ?? 0)
        let worst = zip(a, b).map { abs($0 - $1) }.max() ?? .infinity
        print("TorchvisionReference \(what): max |diff| \(worst) (scale \(scale))")
        XCTAssertLessThanOrEqual(worst, tolerance * scale, what, file: file, line: line)
    }

    /// Logits of `build(classes: 10)` in inference, and gradients of the base (no top) in training.
    private func check(_ name: String, gradients: [String],
                       _ build: (_ classes: Int?, _ binder: WeightBinder) throws -> Network) throws {
        let file = try fixture(name)
        let x = try XCTUnwrap(file.tensors["input"])
        let full = try build(10, binder(file, name))
        try compare(try full.infer(x), file.tensors["logits"], "\(name) logits")
        try compare(try full.forward(x, training: false), file.tensors["logits"], "\(name) logits (forward)")

        let base = try build(nil, binder(file, name))
        let features = try base.forward(x, training: true, keepEverything: true)
        try compare(features, file.tensors["features"], "\(name) training features")
        let r = try XCTUnwrap(file.tensors["features.r"])
        let dx = try XCTUnwrap(try base.backward(r, inputGradient: true))
        try compare(dx, file.tensors["input.grad"], "\(name) input gradient", tolerance: 2e-4)
        for parameter in gradients {
            let layerName = String(parameter.dropLast(".weight".count))
            let layer = try XCTUnwrap(base.layer(named: layerName), layerName)
            let p = try XCTUnwrap((layer as? Conv2D)?.weight ?? (layer as? BatchNormalization)?.gamma)
            let g = try XCTUnwrap(p.gradient, "\(parameter) has no gradient").reordered(to: .rowMajor(p.shape))
            try compare(g, file.tensors["grad." + parameter], "\(name) grad \(parameter)", tolerance: 2e-4)
        }
    }

    func testResNetBlocksMatchTorchvision() throws {
        let stages = [ResNet.Stage(blocks: 3, planes: 64, stride: 1), ResNet.Stage(blocks: 1, planes: 32, stride: 2)]
        try check("resnet_blocks", gradients: ["conv1.weight", "layer1.0.conv2.weight", "layer2.0.downsample.0.weight",
                                               "layer2.0.bn3.weight"]) { classes, binder in
            try ResNet.build(stages: stages, height: 64, width: 64, classes: classes, binder: binder)
        }
    }

    func testMobileNetV3SmallMatchesTorchvision() throws {
        try check("mobilenet_v3_small", gradients: ["features.0.0.weight", "features.1.block.0.0.weight"]) {
            try Architecture(family: .mobileNetV3Small, alpha: 0.35).build(height: 64, width: 64, classes: $0, binder: $1)
        }
    }

    func testMobileNetV3LargeMatchesTorchvision() throws {
        try check("mobilenet_v3_large", gradients: ["features.0.0.weight", "features.1.block.0.0.weight"]) {
            try Architecture(family: .mobileNetV3Large, alpha: 0.25).build(height: 64, width: 64, classes: $0, binder: $1)
        }
    }

    /// Full-size models with random weights, saved as torchvision's downloads are (.pth), made
    /// by `make_torchvision_fixtures.py --full DIR` (~120 MB, not committed): checked when
    /// PETAL_TORCHVISION_FULL (default ~/.cache/petal/torchvision-fixtures) holds them.
    func testFullSizeModelsMatchTorchvisionWhenTheLocalFixturesExist() throws {
        let directory = ProcessInfo.processInfo.environment["PETAL_TORCHVISION_FULL"].map { URL(fileURLWithPath: $0) }
            ?? FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/petal/torchvision-fixtures")
        var checked = 0
        for (file, architecture) in [("resnet50", Architecture.resNet50), ("mobilenet_v3_large", .mobileNetV3Large),
                                     ("mobilenet_v3_small", .mobileNetV3Small)] {
            let weights = directory.appendingPathComponent(file + ".pth")
            let reference = directory.appendingPathComponent(file + ".reference.safetensors")
            guard FileManager.default.fileExists(atPath: weights.path), FileManager.default.fileExists(atPath: reference.path) else {
                print("skipping full-size \(file): run /usr/bin/python3 scripts/fixtures/make_torchvision_fixtures.py --full \(directory.path)")
                continue
            }
            let expected = try SafetensorsFile.read(reference)
            let binder = try PretrainedWeights.binder(for: architecture, url: weights)
            let network = try architecture.build(height: 224, width: 224, classes: 1000, binder: binder)
            try binder.store?.finish()
            try compare(try network.infer(try XCTUnwrap(expected.tensors["input"])), expected.tensors["logits"],
                        "full \(file) logits")
            checked += 1
        }
        if checked == 0 { throw XCTSkip("no full-size torchvision fixtures in \(directory.path)") }
    }
}
