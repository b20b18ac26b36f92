import Foundation
import PetalData
import PetalInference
import PetalModels
import PetalServe
import PetalTestSupport
import XCTest

/// `petal serve --tta flip`: the server answers with the flip classifier's probabilities (the
/// mean of each image and its mirror), not the plain ones.
final class TestTimeAugmentationServeTests: XCTestCase {
    func testServerWithFlipAnswersAsTheFlipClassifier() async throws {
        let folder = Fixtures.temporaryDirectory("serve-tta")
        defer { try? FileManager.default.removeItem(at: folder) }
        // A sharper head than a random one, so the mirror's effect shows in the probabilities.
        let file = folder.appendingPathComponent("flowers.safetensors")
        let model = try TransferClassifier(architecture: .mobileNetV2(alpha: 0.35), classNames: TinyModel.classNames,
                                           inputSize: 32, base: .none, seed: 7)
        for parameter in model.network.weights where parameter.name.hasPrefix("predictions") {
            withExtendedLifetime(parameter.value) { for i in parameter.value.floats.indices { parameter.value.floats[i] *= 1000 } }
        }
        try model.save(to: file)
        let flip = try ImageClassifier(contentsOf: file, testTimeAugmentation: .flip)
        let plain = try ImageClassifier(contentsOf: file)
        let server = try await RunningServer(models: [("flowers", file)]) { $0.testTimeAugmentation = .flip }
        var failure: (any Error)?
        do {
            let jpeg = try TestImages.jpeg(4)
            let answer = try await Client.post("\(server.base)/v1/models/flowers/predict?top=3", jpeg, contentType: "image/jpeg")
            XCTAssertEqual(answer.status, 200, answer.text)
            let predictions = try XCTUnwrap(try answer.json()["predictions"] as? [[String: Any]])
            let got = try XCTUnwrap(predictions.first?["top"] as? [[String: Any]])
            let expected = try flip.classify(.encoded(jpeg, name: "body"), top: 3).top
            XCTAssertEqual(got.map { $0["class"] as? String }, expected.map(\.className))
            for (g, e) in zip(got, expected) {
                XCTAssertEqual(try XCTUnwrap(g["probability"] as? Double), Double(e.probability), accuracy: 1e-5)
            }
            let unflipped = try plain.classify(.encoded(jpeg, name: "body"), top: 3).top
            XCTAssertTrue(zip(expected, unflipped).contains { abs($0.probability - $1.probability) > 1e-4 || $0.index != $1.index },
                          "flip and none agree here, so this test could not tell them apart")
        } catch { failure = error }
        await server.stop()
        if let failure { throw failure }
    }
}
