// Deletes topics through Kafka's Admin API: java -cp "<kafka libs>/*" DeleteTopics.java BROKERS TOPIC...
import org.apache.kafka.clients.admin.*;
import java.util.*;
public class DeleteTopics {
  public static void main(String[] a) throws Exception {
    Properties p = new Properties(); p.put("bootstrap.servers", a[0]);
    try (Admin admin = Admin.create(p)) {
      admin.deleteTopics(Arrays.asList(a).subList(1, a.length)).all().get();
    }
  }
}
