// Creates or updates a SCRAM user through Kafka's Admin API; the password is read from
// standard input as its exact bytes (UTF-8), so any character works and nothing shows in
// the process list:
//   java -cp "<kafka libs>/*" ScramUser.java BROKERS USER MECHANISM[,MECHANISM] < password
// MECHANISM is SCRAM-SHA-256 or SCRAM-SHA-512. BROKERS is a PLAINTEXT listener.
import org.apache.kafka.clients.admin.*;
import java.nio.charset.StandardCharsets;
import java.util.*;

public class ScramUser {
  public static void main(String[] a) throws Exception {
    if (a.length != 3) {
      System.err.println("usage: ScramUser BROKERS USER MECHANISM[,MECHANISM] < password");
      System.exit(2);
    }
    String password = new String(System.in.readAllBytes(), StandardCharsets.UTF_8);
    if (password.isEmpty()) {
      System.err.println("ScramUser: empty password on standard input");
      System.exit(2);
    }
    Properties p = new Properties();
    p.put("bootstrap.servers", a[0]);
    try (Admin admin = Admin.create(p)) {
      // One request per mechanism: a request may alter a user only once.
      for (String name : a[2].split(",")) {
        ScramMechanism mechanism = ScramMechanism.fromMechanismName(name.trim());
        if (mechanism == ScramMechanism.UNKNOWN) {
          System.err.println("ScramUser: unknown mechanism " + name);
          System.exit(2);
        }
        UserScramCredentialAlteration change =
            new UserScramCredentialUpsertion(a[1], new ScramCredentialInfo(mechanism, 4096), password);
        admin.alterUserScramCredentials(List.of(change)).all().get();
      }
    }
  }
}
