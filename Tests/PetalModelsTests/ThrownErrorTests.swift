import XCTest
import PetalCore
import PetalLayers
import PetalModels

/// What input can cause (a huge size, a one-class dataset, a bad head) is a thrown, typed
/// error with a clear message, never a crash.
final class ThrownErrorTests: XCTestCase {
    func testTensorWhoseSizeOverflowsThrows() {
        XCTAssertThrowsError(try Tensor(zeros: [1 << 40, 1 << 30])) { error in
            XCTAssertEqual(error as? TensorError, .sizeOverflow(shape: [1 << 40, 1 << 30], elementBytes: 4))
            XCTAssertTrue("\(error)".contains("[1099511627776, 1073741824]"), "\(error)")
        }
    }

    func testTensorLargerThanTheMachineThrows() {
        // 4 TiB: more than any machine this runs on has.
        XCTAssertThrowsError(try Tensor(zeros: [1024, 1024, 1024, 1024])) { error in
            guard case let .allocationFailed(shape, bytes, _)? = error as? TensorError else {
                return XCTFail("expected allocationFailed, got \(error)")
            }
            XCTAssertEqual(shape, [1024, 1024, 1024, 1024])
            XCTAssertEqual(bytes, 1 << 42)
            XCTAssertTrue("\(error)".contains("4.0 TiB"), "\(error)")
        }
    }

    /// As with a huge image size: the weights fit, the activations of one forward pass do not.
    func testForwardPassWhoseActivationsCannotBeAllocatedThrows() throws {
        // A 48 MB input whose convolution output would take 1 TiB.
        let network = Network(input: InputLayer(shape: [3, 2048, 2048]))
        network.add(try Conv2D(name: "wide", inputChannels: 3, filters: 1 << 16, kernelSize: [1, 1], useBias: false))
        let x = try Tensor(zeros: [1, 3, 2048, 2048])
        XCTAssertThrowsError(try network.infer(x)) { error in
            guard case let .allocationFailed(shape, _, _)? = error as? TensorError else {
                return XCTFail("expected allocationFailed, got \(error)")
            }
            XCTAssertEqual(shape, [1, 1 << 16, 2048, 2048])
        }
        XCTAssertThrowsError(try network.forward(x, training: false)) { error in
            XCTAssertNotNil(error as? TensorError, "\(error)")
        }
    }

    func testOneClassDatasetCannotMakeAClassifier() {
        XCTAssertThrowsError(try TransferClassifier(architecture: .mobileNetV2(alpha: 0.35), classNames: ["daisy"],
                                                    inputSize: 32, base: .none)) { error in
            XCTAssertEqual(error as? ModelError, .tooFewClasses(["daisy"]))
            XCTAssertTrue("\(error)".contains("at least two classes"), "\(error)")
        }
    }

    func testBadHeadsAndInputsAreTypedErrors() throws {
        XCTAssertThrowsError(try TransferClassifier(architecture: .mobileNetV2(alpha: 0.35), classNames: ["a", "b"],
                                                    inputSize: 32, head: HeadConfig(dropout: 1), base: .none)) { error in
            XCTAssertEqual(error as? LayerError, .invalidConfiguration(layer: "dropout", reason: "dropout rate 1.0 must be in [0, 1)"))
        }
        XCTAssertThrowsError(try TransferClassifier(architecture: .mobileNetV2(alpha: 0.35), classNames: ["a", "b"],
                                                    inputSize: 16, base: .none)) { error in
            XCTAssertEqual(error as? ModelError, .inputTooSmall(minimum: 32, height: 16, width: 16))
        }
        let model = try TransferClassifier(architecture: .mobileNetV2(alpha: 0.35), classNames: ["a", "b"],
                                           inputSize: 32, base: .none)
        XCTAssertThrowsError(try model.predict(Tensor(zeros: [1, 3, 48, 48]))) { error in
            XCTAssertEqual(error as? LayerError, .shapeMismatch(what: "the input batch", expected: [1, 3, 32, 32],
                                                                found: [1, 3, 48, 48]))
        }
        let logits = try Tensor(zeros: [2, 2])
        XCTAssertThrowsError(try SoftmaxCrossEntropy.evaluate(logits: logits, labels: [0, 5])) { error in
            XCTAssertEqual(error as? LayerError, .invalidLabels(reason: "class index 5 for a model with 2 classes"))
        }
    }
}
