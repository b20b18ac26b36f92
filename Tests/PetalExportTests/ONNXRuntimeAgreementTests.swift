import Foundation
import PetalCore
import PetalData
import PetalModels
import PetalTestSupport
import XCTest

/// The proof: scripts/check_onnx.py exports models with the built `petal`, checks each file with
/// onnx.checker and compares ONNX Runtime's probabilities on photos with `petal predict`'s
/// (same top-1 for every image, every probability within 1e-4). Runs where python3 has onnx,
/// onnxruntime, numpy and Pillow (.ci/install-onnxruntime.sh installs them); skips visibly otherwise.
final class ONNXRuntimeAgreementTests: XCTestCase {
    private var folder: URL!

    override func setUp() { folder = Fixtures.temporaryDirectory("onnx-agreement") }
    override func tearDown() { try? FileManager.default.removeItem(at: folder) }

    private static let python = URL(fileURLWithPath: "/usr/bin/env")

    private func requirePythonPackages() throws {
        let probe = try PetalProcess.run(executable: Self.python, ["python3", "-c", "import onnx, onnxruntime, numpy, PIL"])
        if probe.status != 0 {
            let message = "SKIPPED: ONNX Runtime agreement: python3 lacks onnx/onnxruntime/numpy/Pillow "
                + "(run .ci/install-onnxruntime.sh)"
            print(message)
            throw XCTSkip(message)
        }
    }

    /// Photos: a few of the shared flowers of each class, or pictures made here where it is absent.
    private func photos(perClass: Int) throws -> [URL] {
        guard let flowers = Fixtures.flowers else {
            print("note: shared flowers absent: comparing on generated pictures")
            return try TinyModels.files(in: folder.appendingPathComponent("pictures"), count: 6)
        }
        let classes = try FileManager.default.contentsOfDirectory(atPath: flowers.path).sorted()
        return classes.flatMap { name -> [URL] in
            let classFolder = flowers.appendingPathComponent(name)
            let files = (try? FileManager.default.contentsOfDirectory(atPath: classFolder.path)) ?? []
            return files.sorted().prefix(perClass).map { classFolder.appendingPathComponent($0) }
        }
    }

    private func check(_ model: URL, photos: [URL], opsets: [Int] = [17], file: StaticString = #filePath,
                       line: UInt = #line) throws {
        let script = Fixtures.repositoryRoot.appendingPathComponent("scripts/check_onnx.py")
        let result = try PetalProcess.run(
            executable: Self.python,
            ["python3", script.path, "--petal", PetalProcess.executable.path] + opsets.flatMap { ["--opset", "\($0)"] }
                + [model.path] + photos.map(\.path))
        print(result.stdout)
        XCTAssertEqual(result.status, 0, result.output, file: file, line: line)
        let agreeing = result.stdout.split(separator: "\n").filter { $0.hasPrefix("OK ") }
        XCTAssertEqual(agreeing.count, 2 * opsets.count, "each opset, with and without preprocessing\n\(result.output)",
                       file: file, line: line)
    }

    func testSmallModelsAgreeWithPetalInONNXRuntime() throws {
        try requirePythonPackages()
        let photos = try photos(perClass: 2)
        let mobileNet = try ExportModels.model(in: folder.appendingPathComponent("mnv2"), hiddenUnits: [24]).url
        try check(mobileNet, photos: photos, opsets: [13, 17, 24])
        let wide = try ExportModels.model(in: folder.appendingPathComponent("mnv2-1.0"), architecture: .mobileNetV2(alpha: 1.0),
                                          inputSize: 48).url
        try check(wide, photos: photos)
        let lite = try ExportModels.model(in: folder.appendingPathComponent("lite0"), architecture: .efficientNetLite(0),
                                          inputSize: 37).url
        try check(lite, photos: photos)
        // The other registered families (MobileNetV3's hard-swish and squeeze-and-excitation, ResNet's max pooling).
        for name in Backbones.names where !name.hasPrefix("mobilenetv2") && !name.hasPrefix("efficientnet-lite") {
            guard let architecture = Architecture(name: name) else { continue }
            let model = try ExportModels.model(in: folder.appendingPathComponent(name), architecture: architecture,
                                               inputSize: 40).url
            try check(model, photos: photos)
        }
    }

    /// The backbones with their installed pretrained weights, at their native sizes.
    func testPretrainedBackbonesAgreeWithPetalInONNXRuntime() throws {
        try requirePythonPackages()
        let photos = try photos(perClass: 2)
        var checked = 0
        for architecture in [Architecture.mobileNetV2(alpha: 1.0), .efficientNetLite(0), .efficientNetLite(2)] {
            guard let weights = PretrainedWeights.installedDefault(for: architecture) else {
                print("SKIPPED: \(architecture): no pretrained weights installed (scripts/setup.sh installs them)")
                continue
            }
            let classifier = try TransferClassifier(
                architecture: architecture, classNames: ["daisy", "dandelion", "roses", "sunflowers", "tulips"],
                inputSize: architecture.nativeInputSize, head: HeadConfig(hiddenUnits: [32]),
                base: try PretrainedWeights.binder(for: architecture, url: weights))
            let url = folder.appendingPathComponent("\(architecture.description.filter(\.isLetter)).safetensors")
            try classifier.save(to: url)
            try check(url, photos: photos)
            checked += 1
        }
        if checked == 0 { throw XCTSkip("no pretrained weights installed") }
    }
}
