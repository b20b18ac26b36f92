import Foundation
import PetalCore
import PetalExport
import PetalLayers
import PetalModels
import PetalTestSupport
import XCTest

/// The ONNX graph and file the exporter writes, read back with the types generated from onnx.proto.
final class ONNXExporterTests: XCTestCase {
    private var folder: URL!

    override func setUp() { folder = Fixtures.temporaryDirectory("onnx-export") }
    override func tearDown() { try? FileManager.default.removeItem(at: folder) }

    /// Exports, writes and reads the file back, as a user of the file would see it.
    private func exported(_ classifier: TransferClassifier, options: ONNXExportOptions = ONNXExportOptions()) throws
        -> Onnx_ModelProto {
        let url = folder.appendingPathComponent("model.onnx")
        try ONNXExporter(classifier: classifier, options: options).export().writeAtomically(to: url)
        return try ONNXExporter.read(url)
    }

    func testOpsetsOutsideTheSupportedRangeAreRefusedNamingTheOption() throws {
        let (_, classifier) = try ExportModels.model(in: folder)
        for opset in [12, 1, ONNXExportOptions.supportedOpsets.upperBound + 1] {
            XCTAssertThrowsError(try ONNXExporter(classifier: classifier, options: ONNXExportOptions(opset: opset)).export()) {
                XCTAssertEqual($0 as? ExportError, .unsupportedOpset(opset, supported: ONNXExportOptions.supportedOpsets))
                XCTAssertTrue("\($0)".contains("--opset \(opset)"), "\($0)")
            }
        }
        for opset in [13, 17, ONNXExportOptions.supportedOpsets.upperBound] {
            let model = try exported(classifier, options: ONNXExportOptions(opset: opset))
            XCTAssertEqual(model.opsetImport.map(\.version), [Int64(opset)])
        }
    }

    func testALayerWithoutAnONNXFormIsNamedWithItsType() throws {
        let network = Network(input: InputLayer(shape: [3, 8, 8]))
        network.add(try Conv2D(name: "stem", inputChannels: 3, filters: 4, kernelSize: [3, 3]))
        network.add(Mystery(name: "mystery_block"))
        let facts = ONNXModelFacts(classNames: ["a", "b"], inputSize: 8, normalization: .minusOneToOne, backbone: "test")
        XCTAssertThrowsError(try ONNXExporter(network: network, facts: facts).export()) {
            XCTAssertEqual($0 as? ExportError, .unsupportedLayer(name: "mystery_block", type: "Mystery"))
            XCTAssertTrue("\($0)".contains("mystery_block") && "\($0)".contains("Mystery"), "\($0)")
        }
    }

    func testMetadataPropsDescribeTheModel() throws {
        let (_, classifier) = try ExportModels.model(in: folder, classes: ["daisy", "rose \"red\"", "tulip"])
        let model = try exported(classifier)
        XCTAssertEqual(model.producerName, "petal")
        XCTAssertEqual(model.producerVersion, PetalVersion.string)
        let metadata = Dictionary(uniqueKeysWithValues: model.metadataProps.map { ($0.key, $0.value) })
        XCTAssertEqual(try PetalJSON.decode([String].self, from: Data(metadata["class_names"]!.utf8)),
                       ["daisy", "rose \"red\"", "tulip"])
        XCTAssertEqual(metadata["input_size"], "32")
        XCTAssertEqual(metadata["petal_version"], PetalVersion.string)
        XCTAssertEqual(metadata["backbone"], "mobilenetv2 (alpha 0.35)")
        XCTAssertEqual(try PetalJSON.decode(InputNormalization.self, from: Data(metadata["normalization"]!.utf8)),
                       .minusOneToOne)
        XCTAssertEqual(try PetalJSON.decode([Double].self, from: Data(metadata["mean"]!.utf8)), [127.5, 127.5, 127.5])
        XCTAssertEqual(try PetalJSON.decode([Double].self, from: Data(metadata["std"]!.utf8)), [127.5, 127.5, 127.5])
    }

    func testTheBatchDimensionIsDynamic() throws {
        let (_, classifier) = try ExportModels.model(in: folder)
        for preprocessing in [false, true] {
            let graph = try exported(classifier, options: ONNXExportOptions(withPreprocessing: preprocessing)).graph
            XCTAssertEqual(graph.input.map(\.name), ["images"])
            XCTAssertEqual(graph.output.map(\.name), ["probabilities"])
            let input = graph.input[0].type.tensorType, output = graph.output[0].type.tensorType
            XCTAssertEqual(input.shape.dim[0].dimParam, "batch")
            XCTAssertEqual(input.shape.dim[0].value, .dimParam("batch"))
            XCTAssertEqual(output.shape.dim[0].dimParam, "batch")
            XCTAssertEqual(output.shape.dim[1].dimValue, 3)
            XCTAssertEqual(input.shape.dim.dropFirst().map(\.dimValue), preprocessing ? [32, 32, 3] : [3, 32, 32])
            XCTAssertEqual(input.elemType, Int32((preprocessing ? Onnx_TensorProto.DataType.uint8 : .float).rawValue))
        }
    }

    /// Batch norms folded, ReLU6 as Clip with inputs, depthwise as grouped Conv, TensorFlow's
    /// asymmetric 'same' padding and Keras's ZeroPadding2D as explicit Conv pads.
    func testTheGraphFoldsBatchNormsAndMakesPaddingExplicit() throws {
        let (_, classifier) = try ExportModels.model(in: folder, hiddenUnits: [16])
        let graph = try exported(classifier).graph
        let convolutions = classifier.network.layers.compactMap { $0 as? Conv2D }
        let ops = graph.node.map(\.opType)
        XCTAssertEqual(ops.filter { $0 == "Conv" }.count, convolutions.count)
        XCTAssertFalse(ops.contains("BatchNormalization"))
        XCTAssertEqual(ops.filter { $0 == "Clip" }.count, classifier.network.layers.filter { ($0 as? Activation)?.function == .relu6 }.count)
        XCTAssertEqual(ops.filter { $0 == "Add" }.count, classifier.network.layers.filter { $0 is Add }.count)
        XCTAssertEqual(Array(ops.suffix(6)), ["GlobalAveragePool", "Flatten", "Gemm", "Relu", "Gemm", "Softmax"])
        XCTAssertTrue(graph.node.filter { $0.opType == "Clip" }.allSatisfy { $0.input.count == 3 })

        func attribute(_ node: String, _ name: String) -> [Int64]? {
            guard let n = graph.node.first(where: { $0.name == node }), let a = n.attribute.first(where: { $0.name == name })
            else { return nil }
            return a.type == .ints ? a.ints : [a.i]
        }
        // Conv1: 'same', 3x3, stride 2 on 32 px: one row and column of padding, at the bottom and right.
        XCTAssertEqual(attribute("Conv1", "pads"), [0, 0, 1, 1])
        XCTAssertEqual(attribute("Conv1", "strides"), [2, 2])
        // block_1: ZeroPadding2D(((0, 1), (0, 1))) on 16 px, then a valid depthwise: the same pads.
        XCTAssertEqual(attribute("block_1_depthwise", "pads"), [0, 0, 1, 1])
        let depthwise = convolutions.first { $0.name == "block_1_depthwise" }!
        XCTAssertEqual(attribute("block_1_depthwise", "group"), [Int64(depthwise.groups)])
        XCTAssertEqual(attribute("block_2_depthwise", "pads"), [1, 1, 1, 1])
        // The folded weights are those Petal's inference uses.
        let conv1 = convolutions[0]
        let bn = classifier.network.layers[2] as! BatchNormalization
        let (w, b) = try conv1.foldBatchNorm(bn)
        let initializer = { (name: String) in graph.initializer.first { $0.name == name }! }
        XCTAssertEqual(floats(initializer("Conv1.weight").rawData), try w.toArray())
        XCTAssertEqual(floats(initializer("Conv1.bias").rawData), try b.toArray())
        XCTAssertEqual(initializer("Conv1.weight").dims, [Int64(conv1.filters), 3, 3, 3])
    }

    func testEfficientNetLiteExportsTensorFlowsAsymmetricSamePadding() throws {
        let (_, classifier) = try ExportModels.model(in: folder, architecture: .efficientNetLite(0), inputSize: 32)
        let graph = try exported(classifier).graph
        func pads(_ node: String) -> [Int64]? {
            graph.node.first { $0.name == node }?.attribute.first { $0.name == "pads" }?.ints
        }
        // ONNX order: top, left, bottom, right. 32 px, 3x3 stride 2 'same': 16 out, 15 * 2 + 3 - 32 = 1
        // row of padding, at the bottom (and a column at the right).
        XCTAssertEqual(pads("_conv_stem"), [0, 0, 1, 1])
        // _blocks.1 (3x3, stride 2) on 16 px: the same; _blocks.3 (5x5, stride 2) on 8 px: 3 * 2 + 5 - 8 = 3, one then two.
        XCTAssertEqual(pads("_blocks.1._depthwise_conv"), [0, 0, 1, 1])
        XCTAssertEqual(pads("_blocks.3._depthwise_conv"), [1, 1, 2, 2])
        XCTAssertEqual(pads("_blocks.4._depthwise_conv"), [2, 2, 2, 2])
        XCTAssertFalse(graph.node.contains { $0.opType == "BatchNormalization" })
    }

    func testPreprocessingCastsNormalisesAndTransposesInTheGraph() throws {
        let (_, classifier) = try ExportModels.model(in: folder, architecture: .efficientNetLite(0))
        let graph = try exported(classifier, options: ONNXExportOptions(withPreprocessing: true)).graph
        XCTAssertEqual(Array(graph.node.prefix(4).map(\.opType)), ["Cast", "Mul", "Add", "Transpose"])
        let scale = graph.initializer.first { $0.name == "preprocess.scale_value" }!
        let offset = graph.initializer.first { $0.name == "preprocess.offset_value" }!
        XCTAssertEqual(floats(scale.rawData), Array(repeating: InputNormalization.efficientNetLite.scale, count: 3))
        XCTAssertEqual(floats(offset.rawData), Array(repeating: InputNormalization.efficientNetLite.offset, count: 3))
    }

    func testIsWrittenByPetalRecognisesOnlyPetalsONNXFiles() throws {
        let (_, classifier) = try ExportModels.model(in: folder)
        let ours = folder.appendingPathComponent("ours.onnx"), theirs = folder.appendingPathComponent("theirs.onnx")
        try ONNXExporter(classifier: classifier).export().writeAtomically(to: ours)
        var foreign = try ONNXExporter.read(ours)
        foreign.producerName = "pytorch"
        try foreign.serializedData().writeAtomically(to: theirs)
        XCTAssertTrue(ONNXExporter.isWrittenByPetal(ours))
        XCTAssertFalse(ONNXExporter.isWrittenByPetal(theirs))
        try Data("not a model".utf8).writeAtomically(to: theirs)
        XCTAssertFalse(ONNXExporter.isWrittenByPetal(theirs))
        XCTAssertFalse(ONNXExporter.isWrittenByPetal(folder.appendingPathComponent("missing.onnx")))
    }

    private func floats(_ data: Data) -> [Float] {
        data.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
    }
}

/// A layer type the exporter does not know.
private final class Mystery: Layer, @unchecked Sendable {  // unchecked: as Layer
    override func infer(_ inputs: [Tensor], buffers: TensorPool? = nil) throws -> Tensor { inputs[0] }
}
