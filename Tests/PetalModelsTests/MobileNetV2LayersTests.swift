import Foundation
import XCTest
import PetalLayers
@testable import PetalModels
import PetalTestSupport

/// Petal's MobileNetV2 has Keras's layers: names, order, types, output shapes and weight
/// shapes, for every alpha, with and without the top, on a rectangular input
/// (fixture: scripts/fixtures/make_backbone_fixtures.py, from keras.applications).
final class MobileNetV2LayersTests: XCTestCase {
    struct Fixture: Decodable {
        struct Model: Decodable {
            let model: String
            let alpha: Double
            let input_shape: [Int]
            let include_top: Bool
            let layer_count: Int
            let layers: [Layer]
        }
        struct Layer: Decodable {
            let i: Int
            let name: String
            let `class`: String
            let output_shape: [Int?]
        }
        let models: [Model]
    }

    func testLayersMatchKerasForEveryAlphaAndInput() throws {
        let data = try Data(contentsOf: Fixtures.url("backbones/mobilenetv2_layers.json"))
        let fixture = try JSONDecoder().decode(Fixture.self, from: data)
        XCTAssertGreaterThanOrEqual(fixture.models.count, 8)
        for model in fixture.models {
            let (h, w) = (model.input_shape[0], model.input_shape[1])
            let network = try MobileNetV2.build(alpha: model.alpha, height: h, width: w,
                                                classes: model.include_top ? 1000 : nil, binder: .none)
            XCTAssertEqual(network.layers.count, model.layer_count, model.model)
            let shapes = network.outputShapes(batch: 1)
            for (layer, expected) in zip(network.layers, model.layers).dropFirst() {
                XCTAssertEqual(layer.name, expected.name, "\(model.model) layer \(expected.i)")
                let kerasClass = expected.class == "Dense" ? "Dense" : expected.class
                XCTAssertEqual(layer.typeName, kerasClass, "\(model.model) \(expected.name)")
                let nhwc = expected.output_shape.dropFirst().map { $0! }
                let nchw = nhwc.count == 3 ? [nhwc[2], nhwc[0], nhwc[1]] : nhwc
                XCTAssertEqual(Array(shapes[expected.i].dropFirst()), nchw, "\(model.model) \(expected.name)")
            }
        }
        // Keras's "freeze the first 100 layers": layer 100 is block_11_expand_relu.
        let base = try MobileNetV2.build(alpha: 1.0, height: 224, width: 224, binder: .none)
        XCTAssertEqual(base.layers.count, 154)
        XCTAssertEqual(base.layers[100].name, "block_11_expand_relu")
    }
}
